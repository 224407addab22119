"""``Database.read``: Core reads in one go, on the event loop's thread for SQLite."""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import Connection, text

from chronoflow.store.engine import Database


def _names(conn: Connection) -> tuple[list[str], int]:
    return list(conn.scalars(text("SELECT name FROM marks ORDER BY name"))), threading.get_ident()


def test_a_read_sees_what_sessions_committed_on_either_database(database_url: str) -> None:
    """It reads the rows an async session committed, on SQLite and PostgreSQL alike."""

    async def scenario() -> list[str]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                await session.execute(text("CREATE TABLE marks (name TEXT)"))
                await session.execute(text("INSERT INTO marks VALUES ('b'), ('a')"))
            names, _ = await db.read(_names)
            return names
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == ["a", "b"]


def test_a_sqlite_read_runs_on_the_loop_thread_and_does_not_wait_for_a_writer(sqlite_url: str) -> None:
    """It runs without a thread hop, and a writer holding the write lock neither blocks it nor shows it its rows."""

    async def scenario() -> tuple[list[str], int, float]:
        db = Database(sqlite_url)
        try:
            async with db.session(write=True) as session:
                await session.execute(text("CREATE TABLE marks (name TEXT)"))
                await session.execute(text("INSERT INTO marks VALUES ('committed')"))
            async with db.writing() as conn:  # BEGIN IMMEDIATE: holds SQLite's write lock until it ends
                await conn.execute(text("INSERT INTO marks VALUES ('uncommitted')"))
                started = time.monotonic()
                names, thread = await db.read(_names)
                waited = time.monotonic() - started
            return names, thread, waited
        finally:
            await db.dispose()

    names, thread, waited = asyncio.run(scenario())
    assert names == ["committed"]
    assert thread == threading.get_ident()
    assert waited < 1  # a reader that waited for the lock would wait until it was released, or 5 s


def test_rows_read_each_column_as_a_connection_does(database_url: str) -> None:
    """``Database.rows`` gives the values a Connection gives (aware dates, decoded JSON, booleans, a
    scalar subquery), with its parameters bound by name, on SQLite and PostgreSQL alike."""
    from datetime import UTC, datetime

    from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, bindparam, func, select

    from chronoflow.store.engine import UTCDateTime

    things = Table("things", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(20)),
                   Column("on", Boolean), Column("at", UTCDateTime()), Column("doc", JSON))
    count = select(func.count()).select_from(things).where(things.c.on == bindparam("on"))
    page = (select(things.c.id, things.c.name, things.c.on, things.c.at, things.c.doc,
                   count.scalar_subquery())
            .where(things.c.on == bindparam("on")).order_by(things.c.id.desc())
            .limit(bindparam("take")).offset(bindparam("skip")))
    written = [{"id": i, "name": f"t{i}", "on": i % 2 == 0, "at": datetime(2026, 12, 4, i, tzinfo=UTC),
                "doc": {"n": i, "tags": ["a"]} if i % 3 else None} for i in range(7)]

    Rows = list[tuple[object, ...]]

    async def scenario() -> tuple[Rows, Rows, Rows]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                await session.run_sync(lambda s: things.create(s.connection()))
                await session.execute(things.insert(), written)
            parameters = {"on": True, "take": 3, "skip": 1}
            by_connection = await db.read(lambda conn: [tuple(row) for row in conn.execute(page, parameters)])
            by_rows = [tuple(row) for row in await db.rows(page, parameters)]
            past_the_end = [tuple(row) for row in await db.rows(page, {**parameters, "skip": 10})]
            return by_connection, by_rows, past_the_end
        finally:
            await db.dispose()

    by_connection, by_rows, past_the_end = asyncio.run(scenario())
    assert by_rows == by_connection
    assert [row[0] for row in by_rows] == [4, 2, 0]
    assert by_rows[0] == (4, "t4", True, datetime(2026, 12, 4, 4, tzinfo=UTC), {"n": 4, "tags": ["a"]}, 4)
    assert by_rows[2][4] is None and by_rows[0][3].tzinfo is UTC
    assert past_the_end == []


def test_stored_json_reads_as_json_loads_reads_it(sqlite_url: str) -> None:
    """JSON columns decode with a faster decoder, yet text it refuses (NaN, a number beyond a float, a
    lone surrogate, as ``json.dumps`` may have written them) still reads as ``json.loads`` reads it.

    SQLite only: PostgreSQL's ``json`` type refuses such text when it is written."""
    import json
    import math

    from sqlalchemy import JSON, Column, Integer, MetaData, Table, select

    docs = Table("docs", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON))
    stored = ['{"headers": {"X-Key": "k"}, "n": [1, 2.5, null, true]}', '{"ratio": NaN}',
              '[1e400, -Infinity]', '"\\ud800"', "[123456789012345678901234567890]", "null"]

    async def scenario() -> tuple[list[object], list[object]]:
        db = Database(sqlite_url)
        try:
            async with db.session(write=True) as session:
                await session.run_sync(lambda s: docs.create(s.connection()))
                for i, doc in enumerate(stored):  # the text as stored, not through the JSON type's writer
                    await session.execute(text("INSERT INTO docs VALUES (:id, :doc)"), {"id": i, "doc": doc})
            query = select(docs.c.doc).order_by(docs.c.id)
            async with db.session() as session:
                through_session = list((await session.scalars(query)).all())
            through_rows = [row[0] for row in await db.rows(query, {})]
            return through_session, through_rows
        finally:
            await db.dispose()

    expected = [json.loads(doc) for doc in stored]
    for read in asyncio.run(scenario()):
        assert read[0] == expected[0] and read[3:] == expected[3:]
        assert math.isnan(read[1]["ratio"]) and read[2] == [math.inf, -math.inf]


def test_a_failed_sqlite_rows_read_leaves_the_next_one_working(sqlite_url: str) -> None:
    """A read that fails (no such table) raises, and the thread's next read, on a new connection, works."""
    import pytest
    from sqlalchemy import Column, Integer, MetaData, Table, select

    marks = Table("marks", MetaData(), Column("n", Integer))

    async def scenario() -> list[int]:
        db = Database(sqlite_url)
        try:
            with pytest.raises(Exception, match="no such table"):
                await db.rows(select(marks.c.n), {})
            async with db.session(write=True) as session:
                await session.execute(text("CREATE TABLE marks (n INTEGER)"))
                await session.execute(text("INSERT INTO marks VALUES (7)"))
            return [row[0] for row in await db.rows(select(marks.c.n), {})]
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == [7]


def test_select_rows_in_a_write_binds_as_a_connection_does(database_url: str) -> None:
    """``select_rows`` in a write transaction binds an aware date through its type, uses the values
    the statement holds (a compared constant, a LIMIT), and reads what the Connection reads, on both
    databases; on SQLite a parameter the caller left out is an error, not a NULL."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select

    from chronoflow.store.engine import UTCDateTime, select_rows

    runs = Table("marked_runs", MetaData(), Column("id", Integer, primary_key=True),
                 Column("status", String(10)), Column("at", UTCDateTime()))
    first = datetime(2026, 12, 4, 9, tzinfo=UTC)
    statement = (select(runs.c.id, runs.c.at)
                 .where(runs.c.status == "running", runs.c.at > bindparam("after"))
                 .order_by(runs.c.id).limit(2))
    written = [{"id": i, "status": "running" if i != 2 else "done", "at": first + timedelta(minutes=i)}
               for i in range(6)]
    after = (first + timedelta(minutes=1)).astimezone(UTC)

    def both(conn: Connection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        direct = [tuple(row) for row in select_rows(conn, statement, {"after": after})]
        through = [tuple(row) for row in conn.execute(statement, {"after": after})]
        return direct, through

    async def scenario() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], bool]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                await session.run_sync(lambda s: runs.create(s.connection()))
                await session.execute(runs.insert(), written)
            direct, through = await db.write(both)
            refused = False
            if database_url.startswith("sqlite"):
                try:
                    await db.write(lambda conn: select_rows(conn, statement, {}))
                except KeyError:
                    refused = True
            return direct, through, refused
        finally:
            await db.dispose()

    direct, through, refused = asyncio.run(scenario())
    assert direct == through == [(3, first + timedelta(minutes=3)), (4, first + timedelta(minutes=4))]
    assert direct[0][1].tzinfo is UTC
    assert refused == database_url.startswith("sqlite")


def test_select_rows_on_an_in_memory_database_reads_through_the_connection() -> None:
    """An in-memory SQLite database is written through aiosqlite, whose driver has no plain cursor:
    ``select_rows`` reads it through the Connection."""
    from sqlalchemy import literal, select

    from chronoflow.store.engine import select_rows

    async def scenario() -> list[tuple[object, ...]]:
        db = Database("sqlite+aiosqlite:///:memory:")
        try:
            rows = await db.write(lambda conn: select_rows(conn, select(literal(7)), {}))
            return [tuple(row) for row in rows]
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == [(7,)]
