"""Outbound HTTP for ``ctx.http``: the requests a function makes, sent by the trusted side.

The host must be on the allowlist, every address it resolves to must be public (unless the
operator lists the host as private), the connection goes to the address that was checked (the
URL is rewritten to the IP, with the ``Host`` header and TLS server name kept), and redirects
are followed one hop at a time with the same checks. Every field comes from untrusted code, so
it is checked by exact type; every refusal is a :class:`~chronoflow.sandbox.refusals.Refused`.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import httpx

from chronoflow.sandbox.policy import FunctionLimits, SandboxPolicy, address_is_public, check_url, finite_seconds
from chronoflow.sandbox.refusals import Refused, type_error

__all__ = ["FORBIDDEN_HEADERS", "HTTP_METHODS", "HTTP_OPTIONS", "MAX_HTTP_TIMEOUT_S", "MAX_REDIRECTS",
           "OutboundHttp", "make_http_client"]

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
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


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


class OutboundHttp:
    """Sends the HTTP requests of one run within its policy and limits, counting them.

    ``remaining`` gives the seconds left in the run; ``take_slot`` waits for room under the run's
    rate limit (shared with messages), or refuses.
    """

    def __init__(self, policy: SandboxPolicy, limits: FunctionLimits, client: httpx.Client, *,
                 remaining: Callable[[], float], take_slot: Callable[[], None]) -> None:
        self.policy = policy
        self.limits = limits
        self.count = 0
        self._client = client
        self._remaining = remaining
        self._take_slot = take_slot

    def request(self, args: dict[str, Any]) -> dict[str, Any]:
        """The answer to one ``http`` call: status, headers, text and final URL, redirects followed."""
        method, url, options = args.get("method"), args.get("url"), args.get("options")
        if type(method) is not str or method.upper() not in HTTP_METHODS:
            raise type_error(f"method must be one of {', '.join(sorted(HTTP_METHODS))}")
        if type(url) is not str:
            raise type_error("url must be a string")
        if type(options) is not dict:
            raise type_error("request options must be keyword arguments")
        unknown = sorted(set(options) - HTTP_OPTIONS)
        if unknown:
            raise type_error(f"unsupported request option {unknown[0]!r}")
        headers = self._headers(options.get("headers"))
        params = self._params(options.get("params"))
        body, content_type = self._body(options)
        if content_type and "content-type" not in (k.lower() for k in headers):
            headers["Content-Type"] = content_type
        timeout = MAX_HTTP_TIMEOUT_S
        if options.get("timeout") is not None:
            timeout = finite_seconds(options["timeout"], "timeout")
            if not 0 < timeout <= MAX_HTTP_TIMEOUT_S:
                raise Refused("ValueError", f"timeout must be between 0 and {MAX_HTTP_TIMEOUT_S:g} seconds")
        method = method.upper()
        current = url
        if params:
            check_url(url)
            try:
                current = str(httpx.URL(url).copy_merge_params(params))
            except (httpx.InvalidURL, TypeError, ValueError) as exc:
                raise Refused("ValueError", f"invalid params: {exc}") from None
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
        raise Refused("HttpError", f"more than {MAX_REDIRECTS} redirects")

    def _headers(self, raw: Any) -> dict[str, str]:
        if raw is None:
            return {}
        if type(raw) is not dict or len(raw) > 50:
            raise type_error("headers must be a dict of at most 50 strings")
        headers: dict[str, str] = {}
        for name, value in raw.items():
            if type(value) is not str:
                raise type_error("header values must be strings")
            if not name or any(not (0x21 <= ord(c) <= 0x7E) or c == ":" for c in name):
                raise Refused("ValueError", "invalid header name")
            if len(value) > 8192 or any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7F for c in value):
                raise Refused("ValueError", f"invalid value for header {name!r}")
            if name.lower() in FORBIDDEN_HEADERS or name.lower().startswith("proxy-"):
                raise Refused("ValueError", f"header {name!r} may not be set")
            headers[name] = value
        return headers

    def _params(self, raw: Any) -> dict[str, str] | None:
        if raw is None:
            return None
        if type(raw) is not dict:
            raise type_error("params must be a dict")
        params: dict[str, str] = {}
        for key, value in raw.items():
            if type(value) not in (str, int, float, bool):
                raise type_error("param values must be strings or numbers")
            params[key] = value if type(value) is str else json.dumps(value)
        return params

    def _body(self, options: dict[str, Any]) -> tuple[bytes | None, str | None]:
        if "json" in options and "data" in options:
            raise type_error("pass json or data, not both")
        if "json" in options:
            return json.dumps(options["json"], allow_nan=False).encode(), "application/json"
        data = options.get("data")
        if data is None:
            return None, None
        if type(data) is str:
            return data.encode(), "text/plain; charset=utf-8"
        if type(data) is dict and all(type(v) is str for v in data.values()):
            return str(httpx.QueryParams(data)).encode(), "application/x-www-form-urlencoded"
        raise type_error("data must be a string or a dict of strings")

    def _resolve(self, host: str, port: int) -> str:
        """The address to connect to, after checking every address ``host`` resolves to."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Refused("HttpError", f"cannot resolve {host}: {exc}") from None
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise Refused("HttpError", f"cannot resolve {host}")
        if not self.policy.host_may_be_private(host):
            for address in addresses:
                if not address_is_public(address):
                    raise Refused("HttpError", f"{host} resolves to a non-public address")
        return str(addresses[0])

    def _send_once(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                   timeout: float) -> httpx.Response:
        parts, host, port = check_url(url)
        if not self.policy.host_allowed(host):
            raise Refused("HttpError", f"host {host!r} is not on the allowlist")
        if self.count >= self.limits.max_http:
            raise Refused("LimitExceeded", f"maxHttp of {self.limits.max_http} requests per run reached")
        remaining = self._remaining()
        if remaining <= 0:
            raise Refused("LimitExceeded", "no time left for the request")
        self._take_slot()
        address = self._resolve(host, port)
        self.count += 1
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
            raise Refused("HttpError", f"request to {host} failed: {type(exc).__name__}") from None

    def _read(self, response: httpx.Response, url: str) -> dict[str, Any]:
        cap = self.limits.max_response_bytes
        body = bytearray()
        try:
            for chunk in response.iter_raw():  # identity encoding was asked: no decompression bombs
                body += chunk
                if len(body) > cap:
                    raise Refused("HttpError", f"response body exceeds {cap} bytes")
                if self._remaining() <= 0:
                    raise Refused("LimitExceeded", "no time left while reading the response")
        except httpx.HTTPError as exc:
            raise Refused("HttpError", f"reading the response failed: {type(exc).__name__}") from None
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
