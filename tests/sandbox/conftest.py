"""Fixtures of the sandbox suite: a real runner, a real fork server and a real HTTP server.

The outside world is a threaded ``http.server`` on 127.0.0.1. The runner's policy lets user
code call it as ``localhost`` (listed as a private host, the way an operator would allow an
internal service); ``127.0.0.1`` itself is allowlisted but not private, so reaching it is an
SSRF the trusted side must refuse.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chronoflow.sandbox import FunctionLimits, SandboxPolicy, SandboxResult, SandboxRunner

#: A variable of the worker's environment that no function may ever see.
HOST_SECRET = "CHRONOFLOW_SANDBOX_TEST_SECRET"


class _Handler(BaseHTTPRequestHandler):
    """Routes of the fake outside world."""

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": url.path, "host": self.headers.get("Host")})  # type: ignore[attr-defined]
        if url.path == "/json":
            self._send(200, json.dumps({"users": [{"name": "Ana", "phone": "5511999990001"}]}).encode(),
                       {"Content-Type": "application/json"})
        elif url.path == "/echo":
            echo = {"method": self.command, "query": query, "body": body.decode(),
                    "content_type": self.headers.get("Content-Type"), "x_token": self.headers.get("X-Token"),
                    "host": self.headers.get("Host")}
            self._send(200, json.dumps(echo).encode(), {"Content-Type": "application/json"})
        elif url.path == "/redirect":
            self._send(302, b"", {"Location": query["to"]})
        elif url.path == "/big":
            self._send(200, b"x" * int(query.get("n", "2000000")))
        elif url.path == "/secret":
            self._send(200, b"internal secret")
        else:
            self._send(404, b"not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _route


@pytest.fixture(scope="session")
def http_server() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on 127.0.0.1; ``server.seen`` lists the requests it received."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def base_url(http_server: ThreadingHTTPServer) -> str:
    """``http://localhost:PORT``: the allowlisted private host."""
    return f"http://localhost:{http_server.server_address[1]}"


@pytest.fixture(scope="session")
def loopback_url(http_server: ThreadingHTTPServer) -> str:
    """``http://127.0.0.1:PORT``: allowlisted, but loopback and not private: must be refused."""
    return f"http://127.0.0.1:{http_server.server_address[1]}"


def make_policy(**overrides: Any) -> SandboxPolicy:
    """The suite's policy, with ``overrides``."""
    options: dict[str, Any] = {
        "http_allowlist": ("localhost", "127.0.0.1", "169.254.169.254", "*.allowed.test"),
        "private_hosts": ("localhost",),
        "recipient_allowlist": ("5511",),
        "rate_limit_per_second": 100,
        "env": {"GREETING": "olá"},
    }
    options.update(overrides)
    return SandboxPolicy(**options)


@pytest.fixture(scope="session")
def runner() -> Iterator[SandboxRunner]:
    """One runner (one fork server) for the whole suite, as a worker would hold it."""
    os.environ[HOST_SECRET] = "s3cr3t"
    with SandboxRunner(make_policy()) as sandbox:
        sandbox.start()
        yield sandbox
    os.environ.pop(HOST_SECRET, None)


class Sent:
    """A real ``send_message`` callback: records what the trusted side let through."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, to: str, text: str) -> str:
        self.calls.append((to, text))
        return f"msg-{len(self.calls)}"


@pytest.fixture
def sent() -> Sent:
    """A fresh message callback."""
    return Sent()


@pytest.fixture
def run(runner: SandboxRunner) -> Callable[..., SandboxResult]:
    """``run(code, **kwargs)`` through the shared runner, with short default limits."""

    def _run(code: str, **kwargs: Any) -> SandboxResult:
        kwargs.setdefault("extras", {})
        kwargs.setdefault("state", {})
        kwargs.setdefault("limits", FunctionLimits(timeout_ms=3000, max_memory_mb=128))
        return runner.run(code, **kwargs)

    return _run
