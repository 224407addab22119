"""SQLite writers of one process take turns on a lock instead of SQLite's sleeping busy handler."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from chronoflow.store.engine import Database


def test_a_second_sqlite_writer_starts_after_the_first_commits_and_readers_do_not_wait(tmp_path: Path) -> None:
    """It holds a second writing session until the first has ended; a reading session goes ahead."""

    async def scenario() -> list[str]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path}/writers.db")
        events: list[str] = []
        first_in, release = asyncio.Event(), asyncio.Event()

        async def writer(name: str) -> None:
            async with db.session(write=True) as session:
                await session.execute(text("SELECT 1"))
                events.append(f"{name} in")
                if name == "first":
                    first_in.set()
                    await asyncio.wait_for(release.wait(), 5)
                await session.execute(text("CREATE TABLE IF NOT EXISTS marks (name TEXT)"))
                await session.execute(text("INSERT INTO marks VALUES (:name)"), {"name": name})
            events.append(f"{name} out")

        try:
            first = asyncio.create_task(writer("first"))
            await asyncio.wait_for(first_in.wait(), 5)
            second = asyncio.create_task(writer("second"))
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
            events.append("reader")
            await asyncio.sleep(0.1)  # time for the second writer to enter, were it not held
            release.set()
            await asyncio.wait_for(asyncio.gather(first, second), 10)
            async with db.session() as session:
                marks = list(await session.scalars(text("SELECT name FROM marks")))
        finally:
            await db.dispose()
        assert marks == ["first", "second"]
        return events

    assert asyncio.run(scenario()) == ["first in", "reader", "first out", "second in", "second out"]
