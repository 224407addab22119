"""The trusted side of ``ctx``: every SDK call of one run is decided here.

A :class:`Broker` lives for one run. It answers the child's requests after checking them
against the :class:`~chronoflow.sandbox.policy.SandboxPolicy` and the run's
:class:`~chronoflow.sandbox.policy.FunctionLimits`, and keeps what the run produced: logs,
state, counts, messages. Requests come from untrusted code, so every field is checked by exact
type and every refusal is an error answer, never an exception in the worker.

HTTP requests are sent by this process with httpx: the host must be on the allowlist, every
address it resolves to must be public (unless the operator lists the host as private), the
connection goes to the address that was checked (the URL is rewritten to the IP, with the
``Host`` header and TLS server name kept), and redirects are followed one hop at a time with
the same checks.
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urljoin

import httpx

from chronoflow.sandbox.policy import (
    FunctionLimits,
    PolicyViolation,
    SandboxPolicy,
    address_is_public,
    check_url,
    finite_seconds,
    normalize_recipient,
)

log = logging.getLogger(__name__)

SendMessage = Callable[[str, str], str]

#: Methods ``ctx.http`` offers.
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: The only request options accepted; anything else (proxy, verify, base_url...) is refused.
HTTP_OPTIONS = frozenset({"params", "headers", "json", "data", "timeout"})
#: Headers user code may not set: the trusted side owns routing and framing.
FORBIDDEN_HEADERS = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive",
    "expect", "accept-encoding", "proxy-authorization", "proxy-connection", "forwarded", "x-forwarded-for", "x-forwarded-host",
})
#: Longest wait for one HTTP request, whatever the function asks.
MAX_HTTP_TIMEOUT_S = 30.0
#: Redirect hops followed per request.
MAX_REDIRECTS = 5
#: Longest state key.
MAX_STATE_KEY_CHARS = 256
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TRUNCATED = "[log output truncated]"


class _Refused(Exception):
    """A request answered with an error of the given SDK type."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


def _type_error(message: str) -> _Refused:
    return _Refused("TypeError", message)


def make_http_client() -> httpx.Client:
    """The client brokers share: no environment proxies, no redirects, no kept-alive connections.

    Connections are not reused because each one is pinned to a checked address and TLS name.
    """
    return httpx.Client(
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0, max_connections=100),
        timeout=MAX_HTTP_TIMEOUT_S,
    )


class Broker:
    """Answers the SDK requests of one run and records what it did."""

    def __init__(
        self,
        policy: SandboxPolicy,
        limits: FunctionLimits,
        *,
        state: dict[str, Any],
        deadline: float,
        http: httpx.Client,
        send_message: SendMessage | None,
    ) -> None:
        self.policy = policy
        self.limits = limits
        self.deadline = deadline
        self.state = json.loads(json.dumps(state, allow_nan=False))
        self.logs: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.http_count = 0
        self.message_count = 0
        self._log_bytes = 0
        self._client = http
        self._send_message = send_message
        self._effects: collections.deque[float] = collections.deque()

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer frame for one ``{"kind": "call", "op": ..., "args": {...}}`` request."""
        op, args = request.get("op"), request.get("args")
        handler = self._HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None or type(args) is not dict:
            return {"error": {"type": "SdkError", "message": "unknown SDK call"}}
        try:
            return {"ok": handler(self, args)}
        except _Refused as exc:
            return {"error": {"type": exc.kind, "message": str(exc)}}
        except PolicyViolation as exc:
            return {"error": {"type": self._POLICY_ERRORS.get(str(op), "SdkError"), "message": str(exc)}}

    def remaining(self) -> float:
        """Seconds left before the run's deadline."""
        return self.deadline - time.monotonic()

    # --- logs, time, state ---------------------------------------------------------------------

    def add_log(self, text: str) -> None:
        """Keep one log line, up to the run's byte budget; past it, one marker and silence."""
        if self._log_bytes > self.limits.max_log_bytes:
            return
        size = len(text.encode("utf-8", "replace"))
        if self._log_bytes + size > self.limits.max_log_bytes:
            self.logs.append(_TRUNCATED)
            self._log_bytes = self.limits.max_log_bytes + 1
            return
        self.logs.append(text)
        self._log_bytes += size

    def _log(self, args: dict[str, Any]) -> None:
        text = args.get("text")
        if type(text) is not str:
            raise _type_error("log text must be a string")
        self.add_log(text)

    def _now(self, args: dict[str, Any]) -> str:
        return datetime.datetime.now(datetime.UTC).isoformat()

    def _sleep(self, args: dict[str, Any]) -> None:
        seconds = finite_seconds(args.get("seconds"), "seconds")
        time.sleep(max(0.0, min(seconds, self.remaining())))

    def _state_key(self, args: dict[str, Any]) -> str:
        key = args.get("key")
        if type(key) is not str:
            raise _type_error("state keys must be strings")
        if not key or len(key) > MAX_STATE_KEY_CHARS:
            raise _Refused("StateError", f"state keys must have 1 to {MAX_STATE_KEY_CHARS} characters")
        return key

    def _state_get(self, args: dict[str, Any]) -> dict[str, Any]:
        key = self._state_key(args)
        return {"found": key in self.state, "value": self.state.get(key)}

    def _state_set(self, args: dict[str, Any]) -> None:
        key = self._state_key(args)
        candidate = dict(self.state)
        candidate[key] = args.get("value")
        size = len(json.dumps(candidate, allow_nan=False, separators=(",", ":")).encode())
        if size > self.limits.max_state_bytes:
            raise _Refused("StateError", f"state would be {size} bytes, over the {self.limits.max_state_bytes} byte cap")
        self.state = candidate

    def _state_delete(self, args: dict[str, Any]) -> None:
        self.state.pop(self._state_key(args), None)

    # --- rate limit ----------------------------------------------------------------------------

    def _take_effect_slot(self) -> None:
        """Wait for room under the per-second rate limit, or refuse if the run has no time left."""
        rate = self.policy.rate_limit_per_second
        while True:
            now = time.monotonic()
            while self._effects and self._effects[0] <= now - 1.0:
                self._effects.popleft()
            if len(self._effects) < rate:
                self._effects.append(now)
                return
            wait = self._effects[0] + 1.0 - now
            if wait >= self.remaining():
                raise _Refused("LimitExceeded", f"rate limit of {rate} calls per second reached")
            time.sleep(wait)

    # --- messages ------------------------------------------------------------------------------

    def _message(self, args: dict[str, Any]) -> str:
        text = args.get("text")
        if type(text) is not str:
            raise _type_error("text must be a string")
        if not text.strip() or len(text) > self.limits.max_message_chars:
            raise _Refused("ValueError", f"text must have 1 to {self.limits.max_message_chars} characters")
        if self.message_count >= self.limits.max_messages:
            raise _Refused("LimitExceeded", f"maxMessages of {self.limits.max_messages} per run reached")
        digits = normalize_recipient(args.get("to"))
        if not self.policy.recipient_allowed(digits):
            raise _Refused("MessageError", "recipient is not on the allowlist")
        if self._send_message is None:
            raise _Refused("MessageError", "no channel is configured to send messages")
        self._take_effect_slot()
        self.message_count += 1
        try:
            message_id = self._send_message(digits, text)
        except Exception:
            log.warning("sending a function's message failed", exc_info=True)
            self.messages.append({"to": digits, "error": "send failed"})
            raise _Refused("MessageError", "the message could not be sent") from None
        self.messages.append({"to": digits, "id": str(message_id)})
        return str(message_id)

    # --- http ----------------------------------------------------------------------------------

    def _http(self, args: dict[str, Any]) -> dict[str, Any]:
        method, url, options = args.get("method"), args.get("url"), args.get("options")
        if type(method) is not str or method.upper() not in HTTP_METHODS:
            raise _type_error(f"method must be one of {', '.join(sorted(HTTP_METHODS))}")
        if type(url) is not str:
            raise _type_error("url must be a string")
        if type(options) is not dict:
            raise _type_error("request options must be keyword arguments")
        unknown = sorted(set(options) - HTTP_OPTIONS)
        if unknown:
            raise _type_error(f"unsupported request option {unknown[0]!r}")
        headers = self._headers(options.get("headers"))
        params = self._params(options.get("params"))
        body, content_type = self._body(options)
        if content_type and "content-type" not in (k.lower() for k in headers):
            headers["Content-Type"] = content_type
        timeout = MAX_HTTP_TIMEOUT_S
        if options.get("timeout") is not None:
            timeout = finite_seconds(options["timeout"], "timeout")
            if not 0 < timeout <= MAX_HTTP_TIMEOUT_S:
                raise _Refused("ValueError", f"timeout must be between 0 and {MAX_HTTP_TIMEOUT_S:g} seconds")
        method = method.upper()
        current = url
        if params:
            check_url(url)
            try:
                current = str(httpx.URL(url).copy_merge_params(params))
            except (httpx.InvalidURL, TypeError, ValueError) as exc:
                raise _Refused("ValueError", f"invalid params: {exc}") from None
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(method, current, headers, body, timeout)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or location is None:
                return self._read(response, current)
            response.close()
            next_url = urljoin(current, location)
            if check_url(next_url)[1] != check_url(current)[1]:
                headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            current = next_url
        raise _Refused("HttpError", f"more than {MAX_REDIRECTS} redirects")

    def _headers(self, raw: Any) -> dict[str, str]:
        if raw is None:
            return {}
        if type(raw) is not dict or len(raw) > 50:
            raise _type_error("headers must be a dict of at most 50 strings")
        headers: dict[str, str] = {}
        for name, value in raw.items():
            if type(value) is not str:
                raise _type_error("header values must be strings")
            if not name or any(not (0x21 <= ord(c) <= 0x7E) or c == ":" for c in name):
                raise _Refused("ValueError", "invalid header name")
            if len(value) > 8192 or any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7F for c in value):
                raise _Refused("ValueError", f"invalid value for header {name!r}")
            if name.lower() in FORBIDDEN_HEADERS or name.lower().startswith("proxy-"):
                raise _Refused("ValueError", f"header {name!r} may not be set")
            headers[name] = value
        return headers

    def _params(self, raw: Any) -> dict[str, str] | None:
        if raw is None:
            return None
        if type(raw) is not dict:
            raise _type_error("params must be a dict")
        params: dict[str, str] = {}
        for key, value in raw.items():
            if type(value) not in (str, int, float, bool):
                raise _type_error("param values must be strings or numbers")
            params[key] = value if type(value) is str else json.dumps(value)
        return params

    def _body(self, options: dict[str, Any]) -> tuple[bytes | None, str | None]:
        if "json" in options and "data" in options:
            raise _type_error("pass json or data, not both")
        if "json" in options:
            return json.dumps(options["json"], allow_nan=False).encode(), "application/json"
        data = options.get("data")
        if data is None:
            return None, None
        if type(data) is str:
            return data.encode(), "text/plain; charset=utf-8"
        if type(data) is dict and all(type(v) is str for v in data.values()):
            return str(httpx.QueryParams(data)).encode(), "application/x-www-form-urlencoded"
        raise _type_error("data must be a string or a dict of strings")

    def _resolve(self, host: str, port: int) -> str:
        """The address to connect to, after checking every address ``host`` resolves to."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise _Refused("HttpError", f"cannot resolve {host}: {exc}") from None
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise _Refused("HttpError", f"cannot resolve {host}")
        if not self.policy.host_may_be_private(host):
            for address in addresses:
                if not address_is_public(address):
                    raise _Refused("HttpError", f"{host} resolves to a non-public address")
        return str(addresses[0])

    def _send_once(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                   timeout: float) -> httpx.Response:
        parts, host, port = check_url(url)
        if not self.policy.host_allowed(host):
            raise _Refused("HttpError", f"host {host!r} is not on the allowlist")
        if self.http_count >= self.limits.max_http:
            raise _Refused("LimitExceeded", f"maxHttp of {self.limits.max_http} requests per run reached")
        remaining = self.remaining()
        if remaining <= 0:
            raise _Refused("LimitExceeded", "no time left for the request")
        self._take_effect_slot()
        address = self._resolve(host, port)
        self.http_count += 1
        pinned_host = f"[{address}]" if ":" in address else address
        target = parts._replace(netloc=f"{pinned_host}:{port}").geturl()
        default_port = 443 if parts.scheme == "https" else 80
        request_headers = dict(headers)
        request_headers["Host"] = host if port == default_port else f"{host}:{port}"
        request_headers["Accept-Encoding"] = "identity"
        extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
        request = self._client.build_request(
            method, target, headers=request_headers, content=body,
            timeout=min(timeout, remaining), extensions=extensions,
        )
        try:
            return self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _Refused("HttpError", f"request to {host} failed: {type(exc).__name__}") from None

    def _read(self, response: httpx.Response, url: str) -> dict[str, Any]:
        cap = self.limits.max_response_bytes
        body = bytearray()
        try:
            for chunk in response.iter_raw():  # identity encoding was asked: no decompression bombs
                body += chunk
                if len(body) > cap:
                    raise _Refused("HttpError", f"response body exceeds {cap} bytes")
                if self.remaining() <= 0:
                    raise _Refused("LimitExceeded", "no time left while reading the response")
        except httpx.HTTPError as exc:
            raise _Refused("HttpError", f"reading the response failed: {type(exc).__name__}") from None
        finally:
            response.close()
        encoding = response.charset_encoding or "utf-8"
        try:
            text = bytes(body).decode(encoding, errors="replace")
        except LookupError:
            text = bytes(body).decode("utf-8", errors="replace")
        headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return {"status_code": response.status_code, "headers": headers, "text": text, "url": url}

    _HANDLERS: ClassVar[dict[str, Callable[[Broker, dict[str, Any]], Any]]] = {
        "log": _log,
        "now": _now,
        "sleep": _sleep,
        "state.get": _state_get,
        "state.set": _state_set,
        "state.delete": _state_delete,
        "message": _message,
        "http": _http,
    }
    _POLICY_ERRORS: ClassVar[dict[str, str]] = {"http": "HttpError", "message": "MessageError", "sleep": "ValueError"}
