"""HTTP to a provider: timeouts, retries with exponential backoff, and errors that say where.

Both provider clients send every request through :class:`ProviderTransport`, so the retry rules
exist once:

- a connection that could not be opened (refused, DNS, connect timeout) is retried: the provider
  never saw the request;
- an HTTP 4xx answer is final: the request is wrong and would fail the same way again;
- an HTTP 5xx answer is retried, except for a message send;
- a timeout or broken connection *after* the request went out is retried only for idempotent
  calls;
- a message send (``sends_message=True``) is retried only when the request never left. Once it
  went out, a read timeout, a broken connection or a 5xx may hide a message WhatsApp already took,
  and nobody may get a text twice: the error is reported at once with ``retryable=False`` and
  ``maybe_delivered=True``, and the caller records it instead of sending again.

Delays double from ``backoff_s`` on each retry, capped at ``max_backoff_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from chronoflow.channels.errors import ProviderError

if TYPE_CHECKING:
    from chronoflow.config import Settings

__all__ = ["ProviderTransport", "RetryPolicy"]

logger = logging.getLogger(__name__)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before the request left: the provider never saw it, a retry is safe."""

_DETAIL_LIMIT = 300
"""Characters of a provider's error body kept in a ProviderError message."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for a provider and how often to try again.

    Attributes:
        max_retries: retries after the first attempt (``HTTP_MAX_RETRIES``, 2).
        backoff_s: delay before the first retry; doubles on each further one.
        max_backoff_s: ceiling of a single delay, so a long retry chain stays bounded.
        timeout_s: timeout of one attempt (connect, read, write and pool each).
    """

    max_retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff must be >= 0")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return float(min(self.backoff_s * (2 ** (retry - 1)), self.max_backoff_s))

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy configured by ``HTTP_MAX_RETRIES`` and ``HTTP_REQUEST_TIMEOUT_MS``."""
        return cls(
            max_retries=max(settings.http_max_retries, 0),
            timeout_s=max(settings.http_request_timeout_ms, 1) / 1000,
        )


class ProviderTransport:
    """An ``httpx.AsyncClient`` for one provider server, with the retry rules above.

    Args:
        provider: provider name for error messages (``"waha"``, ``"evolution"``).
        base_url: the server, e.g. ``http://localhost:3001``.
        headers: sent with every request (the API key).
        policy: timeouts and retries.
        client: an existing client to use instead of creating one (it is not closed by
            :meth:`aclose` then); lets tests or the app share a connection pool.
        sleep: the backoff wait; replaced in tests that must not wait for real.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        policy: RetryPolicy | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{provider} base URL must start with http:// or https://, got {base_url!r}")
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._headers = dict(headers)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self.policy.timeout_s)
        self._sleep = sleep

    async def aclose(self) -> None:
        """Close the connection pool if this transport created it."""
        if self._own_client:
            await self._client.aclose()

    async def request(
        self,
        call: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        sends_message: bool = False,
    ) -> httpx.Response:
        """Send one logical request, retrying what deserves it.

        Args:
            call: the client method on whose behalf this runs, for errors and logs.
            method: HTTP method.
            path: path under the base URL, starting with ``/``.
            json: JSON body, if any.
            params: query string parameters.
            headers: extra headers for this request.
            idempotent: ``False`` for calls that create something: a request that may have
                arrived without an answer is not retried.
            sends_message: a message send: not idempotent, and a 5xx is not retried either; an
                error after the request went out says ``maybe_delivered``.

        Returns:
            The first 2xx/3xx response.

        Raises:
            ProviderError: a 4xx answer, or retries exhausted, or an ambiguous failure of a
                non-idempotent call.
        """
        url = self.base_url + path
        idempotent = idempotent and not sends_message
        merged = {**self._headers, **(headers or {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.request(
                    method, url, json=json, params=params, headers=merged, timeout=self.policy.timeout_s
                )
            except httpx.TransportError as exc:
                reached = not isinstance(exc, _NOT_SENT)
                detail = f"{type(exc).__name__}: {exc or 'no detail'} ({method} {url})"
                if reached and not idempotent:
                    raise ProviderError(
                        self.provider,
                        call,
                        detail + "; the request may have been processed, so it is not repeated",
                        retryable=False,
                        attempts=attempt,
                        maybe_delivered=sends_message,
                    ) from exc
                if attempt <= self.policy.max_retries:
                    await self._wait(call, attempt, detail)
                    continue
                raise ProviderError(self.provider, call, detail, retryable=True, attempts=attempt) from exc

            if response.status_code >= 500:
                detail = _error_detail(response)
                if sends_message:
                    raise ProviderError(
                        self.provider,
                        call,
                        detail + "; the request may have been processed, so it is not repeated",
                        http_status=response.status_code,
                        retryable=False,
                        attempts=attempt,
                        answer=_json_or_none(response),
                        maybe_delivered=True,
                    )
                if attempt <= self.policy.max_retries:
                    await self._wait(call, attempt, f"HTTP {response.status_code}: {detail}")
                    continue
                raise ProviderError(
                    self.provider,
                    call,
                    detail,
                    http_status=response.status_code,
                    retryable=True,
                    attempts=attempt,
                )
            if response.status_code >= 400:
                raise ProviderError(
                    self.provider,
                    call,
                    _error_detail(response),
                    http_status=response.status_code,
                    retryable=False,
                    attempts=attempt,
                    answer=_json_or_none(response),
                )
            return response

    async def request_json(self, call: str, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request`, then decode the JSON body (``None`` for an empty one).

        Raises:
            ProviderError: as :meth:`request`, or the body is not JSON.
        """
        response = await self.request(call, method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(
                self.provider,
                call,
                f"answer is not JSON: {response.text[:_DETAIL_LIMIT]!r}",
                http_status=response.status_code,
            ) from exc

    async def _wait(self, call: str, attempt: int, reason: str) -> None:
        delay = self.policy.delay(attempt)
        logger.warning(
            "%s %s failed (%s); retry %d/%d in %.2fs",
            self.provider,
            call,
            reason,
            attempt,
            self.policy.max_retries,
            delay,
        )
        await self._sleep(delay)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_detail(response: httpx.Response) -> str:
    """The most useful line of a provider's error body.

    WAHA answers ``{"message": ...}`` (NestJS), Evolution API
    ``{"status", "error", "response": {"message": [...]}}``; anything else is shown truncated.
    """
    try:
        body = response.json()
    except ValueError:
        return response.text[:_DETAIL_LIMIT] or response.reason_phrase
    if isinstance(body, dict):
        inner = body.get("response")
        for candidate in (
            inner.get("message") if isinstance(inner, dict) else None,
            body.get("message"),
            body.get("error"),
        ):
            if isinstance(candidate, list):
                candidate = "; ".join(str(item) for item in candidate)
            if candidate:
                return str(candidate)[:_DETAIL_LIMIT]
    return str(body)[:_DETAIL_LIMIT]
