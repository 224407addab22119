"""The HTTP target's client against real servers on 127.0.0.1: guarded connects, reuse, framing, TLS, bounds.

Each server is an asyncio server speaking just enough HTTP/1.1 by hand, so that a test decides
exactly what goes over the wire (a close after the answer, a chunked body, an answer held back).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import h11
import pytest

from chronoflow.destinations import DestinationPolicy, DestinationRefused
from chronoflow.targets.http_client import GuardedClient

DEFAULT = DestinationPolicy()
SHARED = DestinationPolicy(deny_private=True)

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Writes the answer to one request (given its head); returns whether to keep the connection open."""


class Collect:
    """A reader keeping the status and up to ``want`` body bytes."""

    def __init__(self, want: int = 1 << 20) -> None:
        self.want = want
        self.status: int | None = None
        self.encoding = ""
        self.body = b""

    def begin(self, status: int, content_encoding: str) -> None:
        self.status, self.encoding = status, content_encoding

    def feed(self, chunk: bytes) -> bool:
        self.body += chunk
        return len(self.body) >= self.want


class Server:
    """An HTTP/1.1 server on 127.0.0.1 that counts its connections and the requests it read."""

    def __init__(self, answer: Answer, context: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.context = context
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + await reader.readexactly(length))
                if not await self.answer(head, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def ok(head: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    await writer.drain()
    return True


def test_a_kept_connection_carries_the_next_call() -> None:
    """Two calls to one origin share one connection; the request names the host and its body's length."""

    async def scenario() -> tuple[int, int, list[bytes], list[int | None]]:
        async with Server(ok) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context())
            statuses = []
            for body in (b'{"a":1}', b""):
                reader = Collect()
                url = f"http://127.0.0.1:{server.port}/hook?x=1"
                await client.call("POST", url, {"X-Id": "7"}, body, reader)
                statuses.append(reader.status)
                assert reader.body == b"hello"
            await client.close()
            return server.connections, client.connections_opened, server.requests, statuses

    connections, opened, requests, statuses = asyncio.run(scenario())
    assert (connections, opened, statuses) == (1, 1, [200, 200])
    first = requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in first and b"\r\nX-Id: 7\r\n" in first and first.endswith(b'{"a":1}')
    assert b"\r\nContent-Length: 0\r\n" in requests[1]  # a POST states its empty body
    assert b"User-Agent: ChronoFlow/" in first and b"\r\nAccept: */*\r\n" in first


def test_a_configured_host_header_replaces_the_urls() -> None:
    """Its own Host header is sent once, instead of the URL's authority; the call still goes to the URL."""

    async def scenario() -> bytes:
        async with Server(ok) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context())
            url = f"http://127.0.0.1:{server.port}/"
            await client.call("GET", url, {"host": "api.example.test"}, b"", Collect())
            await client.close()
            return server.requests[0]

    head = asyncio.run(scenario()).lower()
    assert head.count(b"\r\nhost: ") == 1 and b"\r\nhost: api.example.test\r\n" in head


def test_an_idle_connection_closed_by_its_server_is_not_reused() -> None:
    """A server that closes after answering (keep-alive promised) costs a new connection, not a failure."""

    async def close_after(head: bytes, writer: asyncio.StreamWriter) -> bool:
        await ok(head, writer)
        return False

    async def scenario() -> tuple[int, list[int | None]]:
        async with Server(close_after) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context())
            statuses = []
            for _ in range(3):
                reader = Collect()
                await client.call("GET", f"http://127.0.0.1:{server.port}/", {}, b"", reader)
                statuses.append(reader.status)
                await asyncio.sleep(0.1)  # the server's close arrives
            await client.close()
            return server.connections, statuses

    assert asyncio.run(scenario()) == (3, [200, 200, 200])


def test_a_chunked_answer_is_read_and_its_connection_kept() -> None:
    """A chunked body is put together; a body cut short of its end closes the connection instead."""

    async def chunked(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Encoding: GZIP\r\n\r\n"
                     b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async def scenario() -> tuple[list[tuple[int | None, str, bytes]], int]:
        async with Server(chunked) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context())
            seen = []
            for want in (100, 100, 2, 100):
                reader = Collect(want)
                await client.call("GET", f"http://127.0.0.1:{server.port}/", {}, b"", reader)
                seen.append((reader.status, reader.encoding, reader.body))
            await client.close()
            return seen, server.connections

    seen, connections = asyncio.run(scenario())
    assert seen[0] == (201, "gzip", b"abcdefg") and seen[1] == seen[0]
    assert seen[2][2] == b"abc"  # stopped after the first chunk: fed no more than asked for
    # The third answer's end had already arrived with its first chunk, so the connection was kept.
    assert connections == 1


def test_an_answer_left_unread_closes_its_connection() -> None:
    """When a reader stops before the answer's end and the rest has not arrived, the connection is dropped."""

    async def long(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"x" * 199000)
        await writer.drain()
        return True

    async def scenario() -> tuple[int, int]:
        async with Server(long) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context())
            for _ in range(2):
                await client.call("GET", f"http://127.0.0.1:{server.port}/", {}, b"", Collect(10))
            await client.close()
            return server.connections, client.connections_opened

    assert asyncio.run(scenario()) == (2, 2)


def test_calls_in_flight_are_bounded() -> None:
    """With ``max_connections=2``, a third call waits until one of two held answers is released."""
    release = asyncio.Event()
    arrived: list[float] = []

    async def held(head: bytes, writer: asyncio.StreamWriter) -> bool:
        arrived.append(asyncio.get_running_loop().time())
        await release.wait()
        return await ok(head, writer)

    async def scenario() -> tuple[int, int]:
        async with Server(held) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context(), max_connections=2)
            url = f"http://127.0.0.1:{server.port}/"
            calls = [asyncio.create_task(client.call("GET", url, {}, b"", Collect())) for _ in range(3)]
            for _ in range(100):  # bounded: 5 s at most
                if len(arrived) >= 2:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # room for a third to arrive, were it not held back
            held_back = len(arrived)
            release.set()
            await asyncio.gather(*calls)
            await client.close()
            return held_back, len(arrived)

    assert asyncio.run(scenario()) == (2, 3)


def test_a_refused_name_is_refused_before_connecting() -> None:
    """Under deny-private, localhost (loopback) is refused before any connection; by default it is called."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]

        async def connect(policy: DestinationPolicy) -> None:
            client = GuardedClient(policy, ssl.create_default_context())
            try:
                call = client.call("GET", f"http://localhost:{port}/", {}, b"", Collect())
                await asyncio.wait_for(call, 0.5)
            finally:
                await client.close()

        with pytest.raises(DestinationRefused, match="localhost resolves to .*loopback"):
            asyncio.run(connect(SHARED))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected: the refusal came first
        with pytest.raises(TimeoutError):  # connected to 127.0.0.1 (after ::1, if listed first), no answer
            asyncio.run(connect(DEFAULT))
        connection, _ = listener.accept()
        connection.close()


def test_a_metadata_literal_is_refused_without_a_packet() -> None:
    """A link-local literal is refused by the client itself: nothing is resolved or connected."""

    async def call() -> None:
        await GuardedClient(DEFAULT, ssl.create_default_context()).call(
            "GET", "http://169.254.169.254/latest/meta-data/", {}, b"", Collect())

    with pytest.raises(DestinationRefused, match="metadata"):
        asyncio.run(call())


def test_a_header_h11_refuses_is_not_sent() -> None:
    """A header value with a line break fails the call before anything reaches the server."""

    async def scenario() -> int:
        async with Server(ok) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context())
            with pytest.raises(h11.LocalProtocolError):
                url = f"http://127.0.0.1:{server.port}/"
                await client.call("GET", url, {"X-A": "b\r\nX-B: c"}, b"", Collect())
            await asyncio.sleep(0.1)
            await client.close()
            return len(server.requests)

    assert asyncio.run(scenario()) == 0


def test_tls_is_verified_and_its_connection_reused(tmp_path: Path) -> None:
    """An HTTPS call checks the certificate against the host it names and reuses its connection."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> tuple[list[bytes], int]:
        async with Server(ok, server_context) as server:
            client = GuardedClient(DEFAULT, trusting)
            bodies = []
            for host in ("localhost", "localhost", "127.0.0.1"):
                reader = Collect()
                await client.call("GET", f"https://{host}:{server.port}/", {}, b"", reader)
                bodies.append(reader.body)
            await client.close()
            untrusting = GuardedClient(DEFAULT, ssl.create_default_context())
            with pytest.raises(ssl.SSLCertVerificationError):
                await untrusting.call("GET", f"https://127.0.0.1:{server.port}/", {}, b"", Collect())
            return bodies, client.connections_opened

    # localhost twice over one connection; 127.0.0.1 is another origin (and named in the certificate)
    assert asyncio.run(scenario()) == ([b"hello"] * 3, 2)


def test_a_body_ended_by_the_close_and_a_head_answer_are_read() -> None:
    """An HTTP/1.0 body runs to the close (not kept); a HEAD answer's Content-Length announces no body."""

    async def by_close(head: bytes, writer: asyncio.StreamWriter) -> bool:
        if head.startswith(b"HEAD "):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            await writer.drain()
            return True
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        await writer.drain()
        return False

    async def scenario() -> tuple[list[tuple[int | None, bytes]], int]:
        async with Server(by_close) as server:
            client = GuardedClient(DEFAULT, ssl.create_default_context())
            seen = []
            for method in ("GET", "HEAD", "HEAD", "GET"):
                reader = Collect()
                await client.call(method, f"http://127.0.0.1:{server.port}/", {}, b"", reader)
                seen.append((reader.status, reader.body))
            await client.close()
            return seen, server.connections

    seen, connections = asyncio.run(scenario())
    assert seen == [(200, b"until the end"), (200, b""), (200, b""), (200, b"until the end")]
    # The first answer ended with its connection; the second was kept for both HEADs and the last GET.
    assert connections == 2
