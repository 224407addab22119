"""The HTTP target's own HTTP/1.1 client: one request, the start of its answer, connections kept.

A worker's HTTP run is mostly its call, and a general client (httpx's request and response
models, httpcore's pool bookkeeping, anyio's streams) spent more of the worker's CPU on it than
the rest of the run together. A run needs little: resolve the host and check every address it has
(:func:`chronoflow.destinations.resolve_checked`), connect to a checked address, send one request,
read the status and the body's first bytes, and keep the connection for the next run to the same
origin when the answer was read to its end. h11 speaks the protocol (framing, chunked bodies,
keep-alive rules); asyncio's streams carry it.

Calls through an operator's proxy stay with httpx (:mod:`chronoflow.targets.http`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import h11
import httpx

from chronoflow import __version__
from chronoflow.destinations import DestinationPolicy, resolve_checked

READ_BYTES = 64 * 1024
"""Most bytes taken from a connection at once."""
MAX_HEAD_BYTES = 100 * 1024
"""Longest status line and headers of an answer (h11 refuses longer ones as a protocol error)."""
USER_AGENT = f"ChronoFlow/{__version__}"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose requests state their body's length even when it is empty."""
MAX_CALLS = 100
"""Calls a client has in flight at once (the HTTP target keeps one per worker process); the others wait."""
MAX_IDLE = 20
"""Idle connections a client keeps for reuse."""
KEEPALIVE_S = 5.0
"""How long an idle connection is kept."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a URL's connections go, and what its requests name."""

    https: bool
    host: str
    """ASCII host (IDNA-encoded name, or an address without brackets): resolved and checked."""
    port: int
    authority: str
    """The ``Host`` header: host and any non-default port, as the URL gave them."""


@lru_cache(maxsize=1024)
def origin_and_target(url: str) -> tuple[Origin, str]:
    """The origin of an absolute http(s) URL and its request target (path and query).

    Cached: a chrono calls the same URL at every run.

    Raises:
        httpx.InvalidURL: the URL cannot be read, or is not absolute http(s).
    """
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise httpx.InvalidURL(f"not an absolute http(s) URL: {url!r}")
    https = parsed.scheme == "https"
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if https else 80)
    target = parsed.raw_path.decode("ascii") or "/"
    return Origin(https, host, port, parsed.netloc.decode("ascii")), target


class Reader(Protocol):
    """What a call does with the answer: told its status and encoding, then fed its body."""

    def begin(self, status: int, content_encoding: str) -> None: ...

    def feed(self, chunk: bytes) -> bool:
        """Take the next body bytes; True once nothing more is wanted."""


class _Connection:
    """One open connection and its protocol state, used by one call at a time."""

    __slots__ = ("idle_since", "protocol", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = 0.0

    def reusable(self, now: float, keepalive_s: float) -> bool:
        """Whether an idle connection may carry another request: not expired, not closed by its server."""
        return (now - self.idle_since < keepalive_s and not self.reader.at_eof()
                and not self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, method: str, origin: Origin, target: str, headers: dict[str, str], body: bytes,
                       reader: Reader) -> bool:
        """Send one request and read its answer into ``reader``; whether the connection may be kept.

        Raises:
            h11.LocalProtocolError: the request cannot be sent (a header h11 refuses).
            h11.RemoteProtocolError: the answer is not HTTP/1.1, or the server closed the connection early.
            OSError: the connection failed.
        """
        protocol = self.protocol
        names = {name.lower() for name in headers}
        fields = list(headers.items()) if "host" in names else [("Host", origin.authority), *headers.items()]
        if "user-agent" not in names:
            fields.append(("User-Agent", USER_AGENT))
        if "accept" not in names:
            fields.append(("Accept", "*/*"))
        if body or method in BODY_METHODS:
            fields.append(("Content-Length", str(len(body))))
        data = protocol.send(h11.Request(method=method, target=target, headers=fields))
        if body:
            data += protocol.send(h11.Data(data=body))
        data += protocol.send(h11.EndOfMessage())
        self.writer.write(data)
        await self.writer.drain()

        event = await self._next_event()
        while isinstance(event, h11.InformationalResponse):  # 100 Continue and the like: the answer follows
            event = await self._next_event()
        if not isinstance(event, h11.Response):
            raise h11.RemoteProtocolError("the server closed the connection without answering")
        encoding = next((value for name, value in event.headers if name == b"content-encoding"), b"")
        reader.begin(event.status_code, encoding.decode("latin-1").strip().lower())
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                if reader.feed(bytes(event.data)):
                    return self._ends_in_buffer()
            elif isinstance(event, h11.EndOfMessage):
                return self._next_cycle()
            else:  # the body ended with the connection
                return False

    async def _next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self.protocol.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            self.protocol.receive_data(await self.reader.read(READ_BYTES))  # b"" at the end of the stream

    def _ends_in_buffer(self) -> bool:
        """After the wanted bytes: keep the connection only if the rest of the answer already arrived."""
        try:
            while True:
                event = self.protocol.next_event()
                if isinstance(event, h11.EndOfMessage):
                    return self._next_cycle()
                if not isinstance(event, h11.Data):
                    return False
        except h11.RemoteProtocolError:  # what follows is not for us to judge: the run has its answer
            return False

    def _next_cycle(self) -> bool:
        if self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE:
            self.protocol.start_next_cycle()
            return True
        return False


class GuardedClient:
    """Calls http(s) URLs over connections opened only to addresses ``policy`` allows.

    At most ``max_connections`` calls are in flight at once (the others wait for a slot); up to
    ``max_idle`` connections are kept between calls, each for ``keepalive_s`` at most, and one is
    reused only while its server has not closed it.
    """

    def __init__(self, policy: DestinationPolicy, ssl_context: ssl.SSLContext, *,
                 max_connections: int = MAX_CALLS, max_idle: int = MAX_IDLE,
                 keepalive_s: float = KEEPALIVE_S) -> None:
        self.policy = policy
        self._ssl_context = ssl_context
        self.max_idle = max_idle
        self.keepalive_s = keepalive_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_count = 0
        self.connections_opened = 0
        """Connections opened since the client was made: what reuse saves."""

    async def call(self, method: str, url: str, headers: dict[str, str], body: bytes, reader: Reader) -> None:
        """Send ``method`` to ``url`` and read the answer into ``reader``.

        Raises:
            httpx.InvalidURL: the URL cannot be called.
            chronoflow.destinations.DestinationRefused: the host or an address it resolves to is refused.
            h11.ProtocolError: the request cannot be sent, or the answer is not HTTP/1.1.
            OSError: the name does not resolve, or the connection failed (``ssl.SSLError`` included).
        """
        origin, target = origin_and_target(url)
        async with self._slots:
            connection = self._take_idle(origin) or await self._connect(origin)
            keep = False
            try:
                keep = await connection.exchange(method, origin, target, headers, body, reader)
            finally:
                if keep:
                    self._keep(origin, connection)
                else:
                    connection.close()

    async def close(self) -> None:
        """Close every kept connection."""
        idle, self._idle, self._idle_count = self._idle, {}, 0
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _take_idle(self, origin: Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        now = time.monotonic()
        while connections:
            connection = connections.pop()  # the most recently used: the least likely to be expired
            self._idle_count -= 1
            if connection.reusable(now, self.keepalive_s):
                return connection
            connection.close()
        return None

    def _keep(self, origin: Origin, connection: _Connection) -> None:
        if self._idle_count >= self.max_idle:
            self._drop_oldest()
        if self._idle_count >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(origin, []).append(connection)
        self._idle_count += 1

    def _drop_oldest(self) -> None:
        """Close the idle connection unused the longest, to make room for a fresher one."""
        oldest = min((connections for connections in self._idle.values() if connections),
                     key=lambda connections: connections[0].idle_since, default=None)
        if oldest is not None:
            oldest.pop(0).close()
            self._idle_count -= 1

    async def _connect(self, origin: Origin) -> _Connection:
        """A new connection to the first checked address of ``origin`` that answers."""
        addresses = await resolve_checked(origin.host, origin.port, self.policy)
        context = self._ssl_context if origin.https else None
        failure: OSError | None = None
        for address in addresses:  # TLS still names the host (SNI and the certificate check)
            try:
                reader, writer = await asyncio.open_connection(
                    address, origin.port, ssl=context, server_hostname=origin.host if context else None,
                    limit=READ_BYTES,
                )
            except OSError as exc:
                failure = exc
                continue
            self.connections_opened += 1
            return _Connection(reader, writer)
        assert failure is not None
        raise failure
