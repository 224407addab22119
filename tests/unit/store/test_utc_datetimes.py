"""``UTCDateTime``: aware UTC datetimes in and out of both databases, whoever wrote the stored text."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Column, Integer, MetaData, Table, select, text

from chronoflow.store.engine import Database, UTCDateTime

MOMENTS = Table("moments", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
IN_ORDER = select(MOMENTS.c.at).order_by(MOMENTS.c.id)

WRITTEN = [
    datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
    datetime(2026, 12, 3, 10, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 3, 7, 30, 15, 999_999, tzinfo=timezone(timedelta(hours=-3))),  # São Paulo's offset
    None,
]


def test_datetimes_come_back_aware_in_utc_through_the_orm_and_core_paths(database_url: str) -> None:
    """What is written comes back equal and in UTC, through an async session and through Database.read."""

    async def scenario() -> tuple[list[datetime | None], list[datetime | None]]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                await session.run_sync(lambda s: MOMENTS.create(s.connection()))
                await session.execute(MOMENTS.insert(), [{"id": i, "at": at} for i, at in enumerate(WRITTEN)])
            async with db.session() as session:
                through_session = list((await session.scalars(IN_ORDER)).all())
            through_read = await db.read(lambda conn: list(conn.scalars(IN_ORDER)))
            return through_session, through_read
        finally:
            await db.dispose()

    for read in asyncio.run(scenario()):
        assert read == WRITTEN
        assert all(at is None or at.tzinfo is UTC for at in read)


def test_sqlite_text_without_a_fraction_or_with_an_offset_is_read_as_utc(sqlite_url: str) -> None:
    """Text written by SQL of its own (a trigger, a hand-made fix) reads as the same instant in UTC."""

    async def scenario() -> list[datetime | None]:
        db = Database(sqlite_url)
        try:
            async with db.session(write=True) as session:
                await session.run_sync(lambda s: MOMENTS.create(s.connection()))
                await session.execute(text("INSERT INTO moments VALUES (1, '2026-12-03 10:00:00'), "
                                           "(2, '2026-12-03T07:00:00-03:00'), (3, '2026-12-03 10:00:00.5')"))
            return await db.read(lambda conn: list(conn.scalars(IN_ORDER)))
        finally:
            await db.dispose()

    ten = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert asyncio.run(scenario()) == [ten, ten, ten + timedelta(milliseconds=500)]
