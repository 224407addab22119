"""What one HTTP run may cost the worker: a bounded read of the answer and one deadline for the whole call.

The receivers here are real servers on 127.0.0.1 that misbehave on purpose: one streams a
300 MB body generated on the fly, others drip their answer one byte at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chronoflow.targets.http import SNIPPET_BYTES
from tests.integration.conftest import Stack

BIG_BODY_BYTES = 300 * 1024 * 1024
CHUNK = b"0123456789abcdef" * 4096  # 64 KiB
BOMB_MIB = 256
DRIP_BYTES = 12
"""A dripping answer takes this many seconds in full: far past the 2 s timeout the tests set."""
RSS_GROWTH_BOUND_KB = 64 * 1024
"""Reading a 300 MB answer may grow the process by less than this (it grew by ~630 MB when read whole)."""


class _Misbehaving(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        try:
            {"/big": self._big, "/drip-body": self._drip_body, "/drip-head": self._drip_head,
             "/small": self._small, "/bomb": self._bomb}[self.path]()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should

    do_POST = do_GET

    def _small(self) -> None:
        self._answer(b"ok")

    def _answer(self, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(200)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _big(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(BIG_BODY_BYTES))
        self.end_headers()
        for _ in range(BIG_BODY_BYTES // len(CHUNK)):
            self.wfile.write(CHUNK)

    def _bomb(self) -> None:
        """256 MiB of zeros in a gzip body of a few hundred KiB, sent although identity was asked for."""
        packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = bytes(1024 * 1024)
        body = b"".join([packer.compress(zeros) for _ in range(BOMB_MIB)] + [packer.flush()])
        self._answer(body, {"Content-Encoding": "gzip"})

    def _drip_body(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(DRIP_BYTES))
        self.end_headers()
        self.wfile.flush()
        for _ in range(DRIP_BYTES):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(1)

    def _drip_head(self) -> None:
        self.close_connection = True
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(DRIP_BYTES):  # the headers never end in time
            self.wfile.write(b"y")
            self.wfile.flush()
            time.sleep(1)
        self.wfile.write(b"\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def misbehaving() -> Iterator[str]:
    """Base URL of a server on 127.0.0.1 answering /big, /bomb, /drip-body, /drip-head and /small."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


_MEASURE = """
import asyncio, json, resource, sys
import httpx
from chronoflow.config import Settings
from chronoflow.store.models import Chrono
from chronoflow.targets.base import ExecutionContext
from chronoflow.targets.http import HttpTarget

async def main(warm_up: str, url: str) -> None:
    target = HttpTarget()
    async with httpx.AsyncClient() as http:
        context = ExecutionContext(settings=Settings(http_request_timeout_ms=60000), db=None, http=http)
        await target.start(context)
        await target.execute(Chrono(url=warm_up, method="GET", headers={}), None, context)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = await target.execute(Chrono(url=url, method="GET", headers={}), None, context)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await target.close()
    print(json.dumps({"status": str(result.status), "http": result.http_status,
                      "snippet": result.response_snippet, "error": result.error_message,
                      "growth_kb": after - before}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _measure(base: str, path: str) -> dict[str, object]:
    """Run the HTTP target on ``path`` in a fresh process; its result and max-RSS growth in KiB."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, base + "/small", base + path],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_300_mb_answer_does_not_grow_the_worker(misbehaving: str) -> None:
    """It reads only the snippet of a huge streamed body: the process grows by a few MB, not 300."""
    measured = _measure(misbehaving, "/big")
    assert measured["status"] == "success" and measured["http"] == 200, measured
    assert measured["snippet"] == (CHUNK * 2)[:SNIPPET_BYTES].decode()
    assert measured["growth_kb"] < RSS_GROWTH_BOUND_KB, measured


def test_a_compressed_answer_is_inflated_only_up_to_the_snippet(misbehaving: str) -> None:
    """It inflates a gzip bomb sent despite Accept-Encoding: identity only as far as the snippet."""
    measured = _measure(misbehaving, "/bomb")
    assert measured["status"] == "success" and measured["snippet"] == "\0" * SNIPPET_BYTES, measured
    assert measured["growth_kb"] < RSS_GROWTH_BOUND_KB, measured


@pytest.mark.parametrize("path", ["/drip-body", "/drip-head"])
def test_the_timeout_bounds_the_whole_call(sqlite_stack: Stack, misbehaving: str, path: str) -> None:
    """It ends a call whose answer drips past HTTP_REQUEST_TIMEOUT_MS as a timeout, not a late success."""
    sqlite_stack.env.update({"HTTP_REQUEST_TIMEOUT_MS": "2000", "JOB_ATTEMPTS": "1"})
    chrono = sqlite_stack.create_http_chrono(misbehaving + path, cron="*/5 * * * *", method="GET")
    sqlite_stack.run_due(chrono["id"])
    (run,) = sqlite_stack.runs(chrono["id"])
    assert run.status == "timeout" and "within 2 s" in run.error_message, run.error_message
    assert run.duration_ms is not None and run.duration_ms < (DRIP_BYTES - 4) * 1000
    if path == "/drip-body":
        assert run.http_status == 200  # the status line came in time, the body did not


def test_a_huge_answer_is_a_success_with_its_snippet_end_to_end(sqlite_stack: Stack, misbehaving: str) -> None:
    """A worker records a 300 MB answer as a success with the first 2 KB of it."""
    chrono = sqlite_stack.create_http_chrono(misbehaving + "/big", cron="*/5 * * * *", method="GET")
    sqlite_stack.run_due(chrono["id"])
    (run,) = sqlite_stack.runs(chrono["id"])
    assert (run.status, run.http_status) == ("success", 200)
    assert run.response_snippet == (CHUNK * 2)[:SNIPPET_BYTES].decode()
