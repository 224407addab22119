"""Database engine and sessions, for SQLite (aiosqlite) and PostgreSQL (asyncpg) alike."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlalchemy import DateTime, Select, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

from chronoflow.config import async_database_url

T = TypeVar("T")

_decode_json = msgspec.json.decode

BUSY_TIMEOUT_S = 30
"""How long a SQLite statement waits for another connection's lock before it fails."""
READER_BUSY_TIMEOUT_S = 5
"""How long a read on the event loop's thread waits for a lock: a WAL reader only meets one while
another connection holds the whole file (a migration, a ``VACUUM``), and the loop waits with it."""



class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every backend.

    SQLite keeps no zone, so values are stored as naive UTC and given their zone back on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        """On SQLite, the stored text parsed straight to an aware datetime: one C call a value instead
        of SQLAlchemy's parser, then ``replace(tzinfo=...)``, wrapped in :meth:`process_result_value`
        (a list page reads hundreds of values; the three cost about ten times the one)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: Any) -> datetime | None:
            if isinstance(value, str):
                try:  # naive UTC text, as SQLAlchemy writes it; parsed with its zone, not given it after
                    return parse(value + "+00:00")
                except ValueError:  # text with an offset of its own
                    value = parse(value)
            return self.process_result_value(value, dialect)

        return process


_DriverPlan = tuple[str, tuple[tuple[str, Any, Any], ...], tuple[Any, ...]]
"""A statement's SQL; its parameters' names, bind processors and values held by the statement; its
columns' result processors."""


_REQUIRED = object()
"""The value a plan holds for a parameter the caller must give."""


@lru_cache(maxsize=256)
def _driver_plan(statement: Select[Any], dialect: Dialect) -> _DriverPlan:
    """``statement`` as the driver takes it: its SQL, its parameters in order (each one's name, bind
    processor and the value the statement holds for it, as for ``status == 'running'`` or a
    ``LIMIT``), and each column's result processor (``None`` for a value taken as it is). Keyed by
    the statement object: for statements built once, as the lists' and the claim's are."""
    compiled = statement.compile(dialect=dialect)
    binds = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        fixed = _REQUIRED if bind.required else bind.effective_value
        binds.append((name, bind.type.dialect_impl(dialect).bind_processor(dialect), fixed))
    processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                       for column in statement.selected_columns)
    return compiled.string, tuple(binds), processors


def _driver_rows(connection: Any, plan: _DriverPlan, parameters: dict[str, Any]) -> list[Sequence[Any]]:
    """The rows of a planned ``SELECT`` on a driver connection, each value through its processors."""
    sql, binds, processors = plan
    cursor = connection.cursor()
    try:
        given = [parameters[name] if fixed is _REQUIRED else parameters.get(name, fixed)
                 for name, _, fixed in binds]
        cursor.execute(sql, [value if bind is None else bind(value)
                             for value, (_, bind, _) in zip(given, binds, strict=True)])
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return rows
    columns = [values if process is None else list(map(process, values))
               for values, process in zip(zip(*rows), processors, strict=True)]
    return list(zip(*columns))


def select_rows(conn: Connection, statement: Select[Any], parameters: dict[str, Any]) -> list[Sequence[Any]]:
    """The rows of one Core ``SELECT`` run in ``conn``'s transaction, read as :meth:`Database.rows` reads.

    On SQLite's standard driver, off the cursor of the same connection (a worker's claim reads the
    chrono in its write transaction: through the :class:`~sqlalchemy.engine.Connection`, each read
    cost several times SQLite's own work); elsewhere (PostgreSQL, or an in-memory database written
    through aiosqlite) through ``conn``.
    """
    if conn.dialect.driver != "pysqlite":
        return list(conn.execute(statement, parameters))
    return _driver_rows(conn.connection.driver_connection, _driver_plan(statement, conn.dialect), parameters)


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def decode_json(text: str | bytes) -> Any:
    """A stored JSON value, decoded as ``json.loads`` decodes it, in a fraction of its time.

    msgspec's decoder is written in C (a list page decodes fifty ``headers`` values); text it
    refuses but ``json.loads`` reads (``NaN``, a number beyond a float, a lone surrogate) is read by
    ``json.loads``, so every stored value still reads as it did.
    """
    try:
        return _decode_json(text)
    except msgspec.MsgspecError:
        return json.loads(text)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL mode, a busy timeout and foreign keys.

    WAL lets the API read while a worker writes; ``synchronous=NORMAL`` is durable across
    application crashes, which is what a scheduler's run log needs.
    """
    url = async_database_url(url)
    kwargs.setdefault("json_deserializer", decode_json)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            _create_private_file(Path(path))
        kwargs.setdefault("connect_args", {"timeout": BUSY_TIMEOUT_S})
        # Every use commits or rolls back explicitly (``Database.session``, ``engine.begin``), so
        # the pool's extra ROLLBACK on check-in is pure cost: one more trip to the driver thread.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(BUSY_TIMEOUT_S))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(busy_timeout_s: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    return on_connect


def _sqlite_sync_engine(async_engine: AsyncEngine, busy_timeout_s: float) -> Engine | None:
    """A synchronous engine (the standard ``sqlite3`` driver) on the same file, for :meth:`Database.read`
    and :meth:`Database.write`."""
    database = async_engine.url.database
    if not database or database == ":memory:":  # a private in-memory database is only the async engine's
        return None
    # No ROLLBACK on check-in: a write commits or rolls back itself, and a read on the driver's
    # connection (:meth:`Database.rows`) opens no transaction.
    engine = create_sync_engine(async_engine.url.set(drivername="sqlite"), json_deserializer=decode_json,
                                pool_reset_on_return=None,
                                connect_args={"timeout": busy_timeout_s, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
    return engine


def _create_private_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does: it holds secrets (signing secrets, API keys).

    SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class Database:
    """One engine and its session factory; collaborators receive this, never a global."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._one_writer = self.engine.dialect.name == "sqlite"
        self._reader = _sqlite_sync_engine(self.engine, READER_BUSY_TIMEOUT_S) if self._one_writer else None
        self._writer = _sqlite_sync_engine(self.engine, BUSY_TIMEOUT_S) if self._one_writer else None
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())
        self._local = threading.local()
        self._kept: list[Any] = []

    @asynccontextmanager
    async def session(self, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error.

        Args:
            write: the transaction will write. SQLite takes one writer at a time: the writers of
                this process take turns on a lock rather than meet in SQLite's busy handler, which
                sleeps up to 100 ms between tries while the pool's other connections hold the lock.
        """
        if write and self._one_writer:
            async with self._writer_lock(), self.sessionmaker() as session, session.begin():
                yield session
            return
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``: Core reads, run synchronously in one transaction.

        On SQLite it runs right here, on the event loop's thread, through the standard ``sqlite3``
        driver. A WAL reader does not wait for writers, and a page of a list takes SQLite well under
        a millisecond; through aiosqlite the same page costs a hop to its thread per call, and under
        load each hop waits for the interpreter lock held by the busy loop (``GET /chronos`` went
        from about 150 to about 470 requests/s). Elsewhere ``work`` runs on the async engine's
        connection, as every other statement does.
        """
        if self._reader is not None:
            with self._reader.connect() as conn:
                return work(conn)
        async with self.engine.connect() as conn:
            return await conn.run_sync(work)

    async def rows(self, statement: Select[Any], parameters: dict[str, Any]) -> list[Sequence[Any]]:
        """The rows of one Core ``SELECT``, each value read as its column's type reads it.

        On SQLite, straight off the driver's cursor on the event loop's thread (as :meth:`read`): the
        statement is compiled once (:func:`_driver_plan`) and each column goes through its type's own
        result processor, without the per-execution context and result objects of a
        :class:`~sqlalchemy.engine.Connection`, which cost more than SQLite's work for a page of
        fifty chronos; parameters go through their types' bind processors as they would there.
        Elsewhere the statement runs on the async engine.
        """
        if self._reader is None:
            async with self.engine.connect() as conn:
                return list(await conn.execute(statement, parameters))
        plan = _driver_plan(statement, self._reader.dialect)
        connection = self._driver_connection()
        try:
            return _driver_rows(connection, plan, parameters)
        except Exception:
            self._local.connection = None
            self._kept.remove(connection)
            connection.invalidate()  # whatever went wrong, the next read starts on a new connection
            raise

    def _driver_connection(self) -> Any:
        """The calling thread's own connection of the reader's pool, kept for :meth:`rows` until
        :meth:`dispose`: a check-out and check-in per read cost a tenth of a list request."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            assert self._reader is not None
            connection = self._local.connection = self._reader.raw_connection()
            self._kept.append(connection)
        return connection

    async def write(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``: Core statements run synchronously in one write transaction.

        It begins as :meth:`writing` does (the write lock first on SQLite; ``work`` locks the rows
        it reads on PostgreSQL). On SQLite the whole of ``work`` runs in one hop to a thread, on the
        standard ``sqlite3`` driver, instead of one hop per statement through aiosqlite: a writer
        holds SQLite's one write lock for less time, which is what the worker's claims and records
        wait on (:class:`~chronoflow.store.batching.WriteBatcher` puts many in one transaction).
        """
        if self._writer is None:
            async with self.writing() as conn:
                return await conn.run_sync(work)
        async with self._writer_lock():
            return await asyncio.to_thread(self._write_now, work)

    def _write_now(self, work: Callable[[Connection], T]) -> T:
        assert self._writer is not None
        with self._writer.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            result = work(conn)
            conn.commit()  # leaving the block without it rolls back
            return result

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A Core transaction whose reads see every writer that started before it.

        A writer may publish something before it commits (a chrono's schedule job is written
        inside the transaction that activates the chrono), so a reader acting on that can arrive
        before the commit. On SQLite this transaction takes the write lock at ``BEGIN IMMEDIATE``
        and so waits for that writer to commit; on PostgreSQL the caller locks the rows it reads
        (``FOR UPDATE``), which waits for the writer of those rows.
        """
        if self._one_writer:
            async with self._writer_lock(), self.engine.begin() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
            return
        async with self.engine.begin() as conn:
            yield conn

    def _writer_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()  # an asyncio.Lock serves one event loop
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
        return lock

    async def dispose(self) -> None:
        kept, self._kept = self._kept, []
        self._local = threading.local()
        for connection in kept:
            connection.close()
        await self.engine.dispose()
        for engine in (self._reader, self._writer):
            if engine is not None:
                engine.dispose()
