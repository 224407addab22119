"""``WriteBatcher``: units of work from many coroutines, committed together; a failing unit fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from chronoflow.store.batching import WriteBatcher
from chronoflow.store.engine import Database
from tests.services import CountingDatabase


def _insert(key: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO marks (k) VALUES (:k)"), {"k": key})
        return key * 10
    return work


def _keys(conn: Connection) -> list[int]:
    return list(conn.scalars(text("SELECT k FROM marks ORDER BY k")))


async def _with_table(database_url: str, scenario: Callable[[Database], Any]) -> Any:
    db = Database(database_url)
    try:
        await db.write(lambda conn: conn.execute(text("CREATE TABLE marks (k INTEGER PRIMARY KEY)")))
        return await scenario(db)
    finally:
        await db.dispose()


def test_writes_arriving_together_share_a_transaction(database_url: str) -> None:
    """It commits 20 units written at once in far fewer transactions, each caller getting its own result."""

    async def scenario(db: Database) -> tuple[list[int], list[int], int]:
        counting = CountingDatabase(db)
        batcher = WriteBatcher(counting)  # type: ignore[arg-type]
        results = await asyncio.gather(*(batcher.write(_insert(k)) for k in range(20)))
        return list(results), await db.read(_keys), counting.transactions

    results, keys, transactions = asyncio.run(_with_table(database_url, scenario))
    assert results == [k * 10 for k in range(20)]
    assert keys == list(range(20))
    assert transactions <= 2  # the first alone, the other 19 queued behind it together


def test_a_failing_unit_fails_its_caller_only(database_url: str) -> None:
    """It writes the batch again one unit at a time, so only the duplicate's caller sees the error."""

    async def scenario(db: Database) -> tuple[list[Any], list[int]]:
        batcher = WriteBatcher(db)
        await batcher.write(_insert(5))
        results = await asyncio.gather(*(batcher.write(_insert(k)) for k in (1, 5, 7)), return_exceptions=True)
        return list(results), await db.read(_keys)

    results, keys = asyncio.run(_with_table(database_url, scenario))
    assert results[0] == 10 and results[2] == 70
    assert isinstance(results[1], IntegrityError)
    assert keys == [1, 5, 7]


def test_a_batch_stays_within_its_limit(sqlite_url: str) -> None:
    """It never puts more than ``limit`` units in one transaction."""

    async def scenario(db: Database) -> int:
        counting = CountingDatabase(db)
        batcher = WriteBatcher(counting, limit=4)  # type: ignore[arg-type]
        await asyncio.gather(*(batcher.write(_insert(k)) for k in range(17)))
        return counting.transactions

    # 1 alone, then 16 queued behind it in batches of 4
    assert asyncio.run(_with_table(sqlite_url, scenario)) == 5


@pytest.mark.parametrize("limit", [0, -1])
def test_a_batch_limit_below_one_is_refused(sqlite_url: str, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        WriteBatcher(Database(sqlite_url), limit=limit)
