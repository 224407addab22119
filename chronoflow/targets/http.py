"""HTTP target: call a URL with a method, headers and a JSON payload, optionally signed.

Signing lets a receiver prove a call came from ChronoFlow: when the chrono has a signing secret,
each request carries ``X-Chronoflow-Timestamp`` (Unix seconds) and ``X-Chronoflow-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<raw body>"`` under the secret. Receivers
recompute it over the raw body and reject stale timestamps to stop replays.

A URL is chosen by an API client, so one run may cost the worker only so much:
``HTTP_REQUEST_TIMEOUT_MS`` bounds the whole call (resolution, connection, sending and reading),
only the first :data:`SNIPPET_BYTES` of the answer are read, and the connection goes only to a
destination :mod:`chronoflow.destinations` allows, checked on the address actually used.

Header values that carry credentials (:func:`is_sensitive`) are write-only: responses show
:data:`HIDDEN` in their place, and a PATCH that sends :data:`HIDDEN` back keeps the stored value.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import ssl
import time
import urllib.request
import zlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import h11
import httpx

from chronoflow.destinations import DestinationPolicy, DestinationRefused, parse_address
from chronoflow.errors import InvalidInput, TooLarge
from chronoflow.store.models import RunStatus
from chronoflow.targets.base import ExecutionContext, Target, TargetResult
from chronoflow.targets.http_client import GuardedClient, Origin, origin_and_target

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.config import Settings
    from chronoflow.store.models import Chrono, ChronoRun

SNIPPET_BYTES = 2048
"""How much of a response body a run reads and keeps."""

MAX_URL_CHARS = 2048
MAX_HEADERS = 50
"""Most headers one chrono may configure."""
MAX_HEADER_NAME_CHARS = 256
MAX_HEADER_VALUE_CHARS = 8 * 1024
"""Longest header value (ASCII only, so also its size in bytes)."""

SIGNATURE_HEADER = "X-Chronoflow-Signature"
TIMESTAMP_HEADER = "X-Chronoflow-Timestamp"

HIDDEN = "***"
"""What responses show instead of a sensitive header's value."""
SENSITIVE_NAMES = frozenset({"authorization", "proxy-authorization", "cookie"})
SENSITIVE_WORDS = ("token", "secret", "key", "password")
"""A header whose name contains one of these (any case) is sensitive too: ``X-Api-Key``, ``X-Auth-Token``."""

RESERVED_HEADERS = frozenset({
    "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
    "proxy-connection", "expect", SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower(),
})
"""Headers ChronoFlow sets itself: framing and connection handling, and the signature."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110 token)."""
_VALUE = re.compile(r"[\t\x20-\x7e]*")
"""A header value that can be sent as is: printable ASCII, spaces and tabs."""
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def encode_payload(payload: Any) -> bytes:
    """The exact bytes sent (and signed) for a JSON payload."""
    return b"" if payload is None else json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- sensitive headers ----------------------------------------------------------------------------

def is_sensitive(name: str) -> bool:
    """Whether a header's value is a credential, never shown once stored."""
    lower = name.lower()
    return lower in SENSITIVE_NAMES or any(word in lower for word in SENSITIVE_WORDS)


def hide_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    """``headers`` as responses show them: sensitive values replaced by :data:`HIDDEN`."""
    if headers is None:
        return None
    return {name: HIDDEN if is_sensitive(name) else value for name, value in headers.items()}


def keep_hidden_values(new: Any, stored: dict[str, str] | None) -> Any:
    """New headers of an update, where a sensitive header sent back as :data:`HIDDEN` keeps its stored value.

    A client that read a chrono can send its headers back unchanged without knowing the secrets.
    The name is matched without regard to case; a :data:`HIDDEN` with nothing stored behind it
    is left for validation to refuse.
    """
    if not isinstance(new, dict) or not stored:
        return new
    by_name = {name.lower(): value for name, value in stored.items()}
    kept: dict[Any, Any] = {}
    for name, value in new.items():
        if value == HIDDEN and isinstance(name, str) and is_sensitive(name) and name.lower() in by_name:
            value = by_name[name.lower()]
        kept[name] = value
    return kept


# --- validation -----------------------------------------------------------------------------------

def _shown(name: str) -> str:
    return name if len(name) <= 64 else name[:64] + "..."


def check_headers(raw: Any) -> dict[str, str]:
    """The headers of an HTTP chrono, once each can be sent as is.

    Raises:
        InvalidInput: naming ``headers.<Name>``, for a name or value that cannot be sent.
        TooLarge: too many headers, or a value over :data:`MAX_HEADER_VALUE_CHARS`.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput("headers", "must be an object of header names to string values")
    if len(raw) > MAX_HEADERS:
        raise TooLarge("headers", f"has {len(raw)} headers; at most {MAX_HEADERS} are allowed")
    seen: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str):
            raise InvalidInput("headers", "header names must be strings")
        field = f"headers.{_shown(name)}"
        if len(name) > MAX_HEADER_NAME_CHARS or not _TOKEN.fullmatch(name):
            raise InvalidInput(field, f"is not a valid header name: use 1 to {MAX_HEADER_NAME_CHARS} ASCII letters, "
                                      "digits and !#$%&'*+-.^_`|~ (no spaces, colons or line breaks)")
        lower = name.lower()
        if lower in seen:
            raise InvalidInput(field, f"repeats header {seen[lower]!r} (header names ignore case)")
        if lower in RESERVED_HEADERS:
            raise InvalidInput(field, "is set by ChronoFlow itself and cannot be configured")
        if not isinstance(value, str):
            raise InvalidInput(field, "must be a string")
        if len(value) > MAX_HEADER_VALUE_CHARS:
            raise TooLarge(field, f"is {len(value)} characters long; at most {MAX_HEADER_VALUE_CHARS} are allowed")
        if not _VALUE.fullmatch(value):
            raise InvalidInput(field, "cannot be sent: use printable ASCII only, without line breaks or "
                                      "control characters")
        if value == HIDDEN and is_sensitive(name):
            raise InvalidInput(field, f'"{HIDDEN}" stands for a hidden stored value, and this chrono has none '
                                      "for this header: send the real value")
        seen[lower] = name
    return dict(raw)


def _check_host_syntax(url: httpx.URL) -> None:
    if parse_address(url.host) is not None:
        return
    name = url.raw_host.decode("ascii", errors="replace").removesuffix(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise InvalidInput("url", f"host {url.host!r} is not a valid host name")


@lru_cache(maxsize=4096)
def _read_url(text: str) -> httpx.URL:
    """``text`` parsed, the answer kept: chronos are often made by the hundred on one webhook URL, and
    httpx's parse is about a tenth of a creation's time (a refused text is parsed again each time)."""
    return httpx.URL(text)


def check_url(raw: Any, policy: DestinationPolicy) -> str:
    """The URL of an HTTP chrono, stripped, once it can be called and its host is not refused.

    Only what the URL says is judged here (a literal address or a well-known name); what a name
    resolves to is checked when a run connects.

    Raises:
        InvalidInput: naming ``url``.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidInput("url", "is required for an HTTP chrono")
    if not isinstance(raw, str):
        raise InvalidInput("url", "must be a string")
    text = raw.strip()
    if len(text) > MAX_URL_CHARS:
        raise InvalidInput("url", f"must be at most {MAX_URL_CHARS} characters")
    try:
        url = _read_url(text)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise InvalidInput("url", f"cannot be read ({exc}): {text!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInput("url", f"must be an absolute http(s) URL, got {text!r}")
    if url.userinfo:
        raise InvalidInput("url", "must not carry a user name or password: send credentials in a header such as "
                                  "Authorization, which responses hide")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise InvalidInput("url", f"port {url.port} is out of range (1-65535)")
    _check_host_syntax(url)
    try:
        policy.check_host(url.host)
    except DestinationRefused as exc:
        raise InvalidInput("url", exc.reason) from None
    return text


# --- execution ------------------------------------------------------------------------------------

_ssl_context: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs more than a run."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def environment_proxy(origin: Origin, proxies: dict[str, str]) -> str | None:
    """The outbound proxy for ``origin`` that ``proxies`` name (the worker's ``HTTP(S)_PROXY``,
    ``ALL_PROXY`` and ``NO_PROXY``, read when the target starts)."""
    if not proxies:
        return None
    proxy = proxies.get("https" if origin.https else "http") or proxies.get("all")
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # not in the stubs
    if not proxy or bypass(origin.host, proxies):
        return None
    return proxy


class _Snippet:
    """The start of a response body: fed chunk by chunk, never keeping more than :data:`SNIPPET_BYTES`."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.data = bytearray()
        self._inflate: Any = None

    def begin(self, status: int, content_encoding: str) -> None:
        # Identity encoding is asked for; a gzip or deflate body sent anyway is inflated only up
        # to the snippet's size, so a small compressed answer cannot expand in memory.
        self.status = status
        if content_encoding in ("gzip", "x-gzip", "deflate"):
            self._inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> bool:
        room = SNIPPET_BYTES - len(self.data)
        if self._inflate is not None:
            try:
                chunk = self._inflate.decompress(chunk, room)
            except zlib.error:
                return True
        self.data += chunk[:room]
        return len(self.data) >= SNIPPET_BYTES

    async def read(self, response: httpx.Response) -> None:
        """Read an httpx response (a call through a proxy)."""
        self.begin(response.status_code, response.headers.get("content-encoding", "").strip().lower())
        async for chunk in response.aiter_raw():
            if self.feed(chunk):
                return

    def text(self) -> str:
        return bytes(self.data).decode("utf-8", errors="replace")


class HttpTarget(Target):
    """Calls ``url``; a 2xx or 3xx answer is a success (redirects are not followed)."""

    fields = frozenset({"url", "method", "headers", "payload", "signingSecret"})
    validation_reads_rows = False

    def __init__(self) -> None:
        self._policy: DestinationPolicy | None = None
        self._proxies: dict[str, str] = {}
        # Kept between runs so that runs reuse connections: one for direct calls, one per proxy.
        self._direct: GuardedClient | None = None
        self._proxied: dict[str, httpx.AsyncClient] = {}

    async def start(self, context: ExecutionContext) -> None:
        """Take the worker's destination policy and proxies; clients are opened on first use."""
        self._policy = DestinationPolicy.from_settings(context.settings)
        self._proxies = urllib.request.getproxies_environment()

    async def close(self) -> None:
        """Close the clients opened since :meth:`start`."""
        direct, self._direct = self._direct, None
        proxied, self._proxied = self._proxied, {}
        if direct is not None:
            await direct.close()
        for client in proxied.values():
            await client.aclose()

    async def _call(self, method: str, url: str, origin: Origin, headers: dict[str, str], body: bytes,
                    seconds: float, snippet: _Snippet) -> None:
        """Send the request and read the answer's start into ``snippet``.

        Direct calls go through the guarded client: every connection it opens, reused or not, was
        opened to a checked address. Through an operator's proxy, the proxy resolves the name and is
        the one to police it; the URL's own host was checked before.
        """
        if self._policy is None:
            raise RuntimeError("the HTTP target was not started")
        proxy = environment_proxy(origin, self._proxies)
        if proxy is None:
            if self._direct is None:
                self._direct = GuardedClient(self._policy, _shared_ssl_context())
            await self._direct.call(method, url, headers, body, snippet)
            return
        client = self._proxied.get(proxy)
        if client is None:
            client = httpx.AsyncClient(proxy=proxy, verify=_shared_ssl_context(), trust_env=False,
                                       follow_redirects=False)
            self._proxied[proxy] = client
        request = client.stream(method, url, content=body or None, headers=headers, timeout=seconds)
        async with request as response:
            await snippet.read(response)

    async def validate(self, fields: dict[str, Any], session: AsyncSession | None,
                       settings: Settings) -> dict[str, Any]:
        url = check_url(fields.get("url"), DestinationPolicy.from_settings(settings))
        method = fields.get("method") or "POST"
        if not isinstance(method, str) or method.upper() not in settings.allowed_methods:
            raise InvalidInput("method", f"must be one of {', '.join(settings.allowed_methods)}, got {method!r}")
        headers = check_headers(fields.get("headers"))
        secret = fields.get("signingSecret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise InvalidInput("signingSecret", "must be a string of at least 16 characters")
        return {"url": url, "method": method.upper(), "headers": headers,
                "payload": fields.get("payload"), "signing_secret": secret}

    @staticmethod
    def _request_headers(chrono: Chrono, body: bytes) -> dict[str, str]:
        headers = dict(chrono.headers or {})
        names = {name.lower() for name in headers}
        if body and "content-type" not in names:
            headers["Content-Type"] = "application/json"
        if "accept-encoding" not in names:
            headers["Accept-Encoding"] = "identity"
        if chrono.signing_secret:
            timestamp = int(time.time())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(chrono.signing_secret, timestamp, body)
        return headers

    async def execute(self, chrono: Chrono, run: ChronoRun, context: ExecutionContext) -> TargetResult:
        policy = DestinationPolicy.from_settings(context.settings)
        url = chrono.url or ""
        try:  # the settings may have changed since the chrono was created
            origin, _ = origin_and_target(url)
            policy.check_host(origin.host)
        except DestinationRefused as exc:
            return TargetResult(RunStatus.FAILED, error_message=f"destination refused: {exc.reason}")
        except httpx.InvalidURL as exc:
            return TargetResult(RunStatus.FAILED, error_message=f"invalid url: {exc}")
        body = encode_payload(chrono.payload)
        headers = self._request_headers(chrono, body)
        seconds = context.settings.http_request_timeout_ms / 1000
        snippet = _Snippet()
        try:
            async with asyncio.timeout(seconds):
                await self._call(chrono.method or "POST", url, origin, headers, body, seconds, snippet)
        except (TimeoutError, httpx.TimeoutException):
            return TargetResult(
                RunStatus.TIMEOUT, http_status=snippet.status, response_snippet=snippet.text() or None,
                error_message=f"no complete answer within {seconds:g} s", retryable=True,
            )
        except DestinationRefused as exc:
            return TargetResult(RunStatus.FAILED, error_message=f"destination refused: {exc.reason}")
        except UnicodeEncodeError:  # a header stored before headers were checked at creation
            return TargetResult(RunStatus.FAILED, error_message="a header cannot be sent: header names and values "
                                                                 "must be ASCII")
        except (h11.LocalProtocolError, httpx.LocalProtocolError) as exc:
            return TargetResult(RunStatus.FAILED, error_message=f"request failed: {exc!r}")
        except (httpx.HTTPError, h11.RemoteProtocolError, OSError) as exc:
            return TargetResult(RunStatus.FAILED, http_status=snippet.status,
                                error_message=f"request failed: {exc!r}", retryable=True)
        status = snippet.status
        assert status is not None  # a call that returned has read the status
        if 200 <= status < 400:
            return TargetResult(RunStatus.SUCCESS, http_status=status, response_snippet=snippet.text())
        return TargetResult(
            RunStatus.FAILED, http_status=status, response_snippet=snippet.text(), error_message=f"HTTP {status}",
            retryable=status >= 500 or status in (408, 429),
        )
