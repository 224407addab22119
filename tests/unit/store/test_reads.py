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
