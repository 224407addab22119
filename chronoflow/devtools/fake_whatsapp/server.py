"""The fake gateway's HTTP server: WAHA and Evolution API routes at once, plus ``/_fake`` control.

A stdlib ``ThreadingHTTPServer`` in a background thread: it starts in milliseconds, needs no event
loop, and serves a test's async client and its own webhook posts concurrently.

Each provider request is logged, then may be failed or delayed by a ``/_fake/fail`` rule, then must
carry the API key when one is configured (WAHA ``X-Api-Key``, Evolution ``apikey``), then is routed.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from chronoflow.devtools.fake_whatsapp import control_routes, evolution_routes, waha_routes
from chronoflow.devtools.fake_whatsapp.routing import BadRequest, Request, Response, Router, json_response
from chronoflow.devtools.fake_whatsapp.state import FailRule, FakeConfig, FakeState

__all__ = ["FakeWhatsApp"]

logger = logging.getLogger(__name__)

_PROVIDER_PREFIXES = {"waha": ("/api/",), "evolution": ("/instance/", "/message/", "/chat/")}
"""Which provider a path belongs to."""

_KEY_HEADERS = {"waha": "x-api-key", "evolution": "apikey"}
"""Where each provider expects its API key."""

_ROUTERS: dict[str, Router] = {"waha": waha_routes.router, "evolution": evolution_routes.router}


class FakeWhatsApp:
    """A local WAHA + Evolution API look-alike for tests and walk-throughs.

    Args:
        port: TCP port; 0 picks a free one (read it back from :attr:`url`).
        host: interface to bind; keep 127.0.0.1 (the control routes have no authentication).
        api_key: key both providers require (``X-Api-Key`` / ``apikey``); ``None`` accepts all.
        evolution_api_key: a different key for the Evolution routes.
        webhook_url: where WAHA events are posted (ChronoFlow's ``/waha/webhooks``).
        evolution_webhook_url: where Evolution events go; defaults to ``webhook_url``.
        hmac_key: signs WAHA webhooks (``X-Webhook-Hmac``); ``None`` sends them unsigned.
        evolution_secret: sent as ``X-Webhook-Secret`` on Evolution webhooks.
        sessions: sessions that exist, WORKING and paired, for both providers at start.

    Example::

        with FakeWhatsApp(api_key="k", webhook_url=receiver.url + "/hook", hmac_key="h") as fake:
            client = WahaClient(fake.url, "default", "k")
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        api_key: str | None = None,
        evolution_api_key: str | None = None,
        webhook_url: str | None = None,
        evolution_webhook_url: str | None = None,
        hmac_key: str | None = None,
        evolution_secret: str | None = None,
        sessions: tuple[str, ...] = ("default",),
    ) -> None:
        self._host = host
        self._port = port
        self.state = FakeState(
            FakeConfig(
                api_key=api_key or None,
                evolution_api_key=evolution_api_key or None,
                webhook_url=webhook_url or None,
                evolution_webhook_url=evolution_webhook_url or None,
                hmac_key=hmac_key or None,
                evolution_secret=evolution_secret or None,
                sessions=tuple(sessions),
            )
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (both providers live under it)."""
        if self._server is None:
            raise RuntimeError("FakeWhatsApp is not started")
        return self.state.url

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns at once, ready for requests."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self._host, self._port), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self.state.url = f"http://{self._host}:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-whatsapp", daemon=True
        )
        self._thread.start()
        logger.info("fake WhatsApp (WAHA + Evolution API) listening on %s", self.state.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for webhooks still being posted; a later :meth:`start` serves the same URL,
        so a test can take the gateway down (connections refused) and bring it back."""
        if self._server is None:
            return
        self._port = self._server.server_address[1]
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.state.sender.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Python shortcuts to what the /_fake routes show, for assertions in tests.

    def messages(self) -> list[dict[str, Any]]:
        """Texts sent so far (as ``GET /_fake/messages`` lists them)."""
        with self.state.lock:
            return list(self.state.messages)

    def requests(self, path_prefix: str = "") -> list[dict[str, Any]]:
        """Provider requests received so far whose path starts with ``path_prefix``."""
        with self.state.lock:
            return [r for r in self.state.requests if r["path"].startswith(path_prefix)]

    def fail(
        self, status: int | None = 500, *, times: int = 1, path: str | None = None, delay: float = 0.0,
        processed: bool = False,
    ) -> None:
        """Make the next ``times`` provider requests under ``path`` answer ``status`` (as ``/_fake/fail``)."""
        with self.state.lock:
            self.state.fail_rules.append(FailRule(status=status, times=times, path=path, delay_s=delay,
                                                  processed=processed))

    def respond(self, request: Request) -> Response:
        """Answer one request (the HTTP handler calls this; tests normally go through HTTP)."""
        try:
            if request.path.startswith("/_fake/"):
                return _route(control_routes.router, self.state, request)
            provider = next(
                (p for p, prefixes in _PROVIDER_PREFIXES.items() if request.path.startswith(prefixes)), None
            )
            if provider is None:
                return json_response(
                    {"statusCode": 404, "message": f"Cannot {request.method} {request.path}"}, 404
                )
            return self._provider_request(provider, request)
        except BadRequest as exc:
            return json_response({"statusCode": 400, "message": str(exc), "error": "Bad Request"}, 400)
        except Exception:
            logger.exception("fake WhatsApp failed on %s %s", request.method, request.path)
            return json_response({"statusCode": 500, "message": "fake gateway error"}, 500)

    def _provider_request(self, provider: str, request: Request) -> Response:
        try:
            logged_body: Any = request.json() if request.body else None
        except BadRequest:
            logged_body = request.body.decode("utf-8", errors="replace")
        entry: dict[str, Any] = {
            "provider": provider,
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "body": logged_body,
            "status": None,
            "timestamp": time.time(),
        }
        self.state.record_request(entry)
        rule = self.state.take_failure(request.path)
        response = self._injected_failure(rule)
        if response is None or (rule is not None and rule.processed):
            done = self._check_key(provider, request) or _route(_ROUTERS[provider], self.state, request)
            response = response or done
        entry["status"] = response.status
        return response

    def _injected_failure(self, rule: FailRule | None) -> Response | None:
        if rule is None:
            return None
        if rule.delay_s:
            time.sleep(rule.delay_s)
        if rule.status is None:
            return None
        body = (
            rule.body if rule.body is not None else {"statusCode": rule.status, "message": "injected failure"}
        )
        return json_response(body, rule.status)

    def _check_key(self, provider: str, request: Request) -> Response | None:
        expected = self.state.api_key(provider)
        if not expected:
            return None
        given = request.headers.get(_KEY_HEADERS[provider], "")
        if hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return None
        if provider == "waha":
            return json_response({"statusCode": 401, "message": "Unauthorized"}, 401)
        return json_response(
            {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}, 401
        )


def _route(router: Router, state: FakeState, request: Request) -> Response:
    response = router.dispatch(state, request)
    if response is not None:
        return response
    status = 405 if router.matches_path(request.path) else 404
    return json_response({"statusCode": status, "message": f"Cannot {request.method} {request.path}"}, status)


class _Handler(BaseHTTPRequestHandler):
    """Turns raw HTTP into :class:`Request` for :meth:`FakeWhatsApp.respond`."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        fake: FakeWhatsApp = self.server.fake  # type: ignore[attr-defined]
        response = fake.respond(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake WhatsApp: " + format, *args)
