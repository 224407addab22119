"""HTTP target: call a URL with a method, headers and a JSON payload, optionally signed.

Signing lets a receiver prove a call came from ChronoFlow: when the chrono has a signing secret,
each request carries ``X-Chronoflow-Timestamp`` (Unix seconds) and ``X-Chronoflow-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<raw body>"`` under the secret. Receivers
recompute it over the raw body and reject stale timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from chronoflow.exceptions import InvalidInput
from chronoflow.models import RunStatus
from chronoflow.targets.base import ExecutionContext, Target, TargetResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.config import Settings
    from chronoflow.models import Chrono, ChronoRun

SNIPPET_BYTES = 2048
"""How much of a response body a run keeps."""

SIGNATURE_HEADER = "X-Chronoflow-Signature"
TIMESTAMP_HEADER = "X-Chronoflow-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def encode_payload(payload: Any) -> bytes:
    """The exact bytes sent (and signed) for a JSON payload."""
    return b"" if payload is None else json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class HttpTarget(Target):
    """Calls ``url``; a 2xx or 3xx answer is a success."""

    async def validate(self, fields: dict[str, Any], session: AsyncSession, settings: Settings) -> dict[str, Any]:
        url = fields.get("url")
        if url is None or (isinstance(url, str) and not url.strip()):
            raise InvalidInput("url", "is required for an HTTP chrono")
        if not isinstance(url, str):
            raise InvalidInput("url", "must be a string")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput("url", f"must be an absolute http(s) URL, got {url!r}")
        method = fields.get("method") or "POST"
        if not isinstance(method, str) or method.upper() not in settings.allowed_methods:
            raise InvalidInput("method", f"must be one of {', '.join(settings.allowed_methods)}, got {method!r}")
        headers = fields.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise InvalidInput("headers", "must be an object of string names to string values")
        for name, value in headers.items():
            if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
                raise InvalidInput("headers", f"invalid header {name!r}")
        secret = fields.get("signingSecret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise InvalidInput("signingSecret", "must be a string of at least 16 characters")
        return {"url": url.strip(), "method": method.upper(), "headers": headers,
                "payload": fields.get("payload"), "signing_secret": secret}

    async def execute(self, chrono: Chrono, run: ChronoRun, context: ExecutionContext) -> TargetResult:
        body = encode_payload(chrono.payload)
        headers = dict(chrono.headers or {})
        if body:
            headers.setdefault("Content-Type", "application/json")
        if chrono.signing_secret:
            timestamp = int(time.time())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(chrono.signing_secret, timestamp, body)
        timeout = context.settings.http_request_timeout_ms / 1000
        try:
            response = await context.http.request(
                chrono.method or "POST", chrono.url or "", content=body or None, headers=headers, timeout=timeout,
            )
        except httpx.TimeoutException:
            return TargetResult(RunStatus.TIMEOUT, error_message=f"no answer within {timeout:g} s", retryable=True)
        except httpx.HTTPError as exc:
            return TargetResult(RunStatus.FAILED, error_message=f"request failed: {exc!r}", retryable=True)
        snippet = response.content[:SNIPPET_BYTES].decode("utf-8", errors="replace")
        if 200 <= response.status_code < 400:
            return TargetResult(RunStatus.SUCCESS, http_status=response.status_code, response_snippet=snippet)
        return TargetResult(
            RunStatus.FAILED, http_status=response.status_code, response_snippet=snippet,
            error_message=f"HTTP {response.status_code}",
            retryable=response.status_code >= 500 or response.status_code in (408, 429),
        )
