"""The overview's figures (migration 0008's run indexes), on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from alembic import command
from sqlalchemy import insert, inspect

from chronoflow.chronos.overview import overview
from chronoflow.config import async_database_url
from chronoflow.store.engine import create_engine, utcnow
from chronoflow.store.migrations import alembic_config, upgrade
from chronoflow.store.models import ChronoRun, new_id
from tests.integration.conftest import Stack


def _run_indexes(url: str) -> set[str]:
    async def load() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda c: {i["name"] for i in inspect(c).get_indexes("chrono_runs")})
        finally:
            await engine.dispose()
    return asyncio.run(load())


def test_the_overview_reads_the_run_indexes_of_0008_and_counts_the_last_day(stack: Stack) -> None:
    """Migration 0008 swaps (status) for (scheduled_for, status) and (status, scheduled_for), and back; the
    overview counts the window's runs by status and lists the newest failed and timed-out runs first."""
    url = async_database_url(stack.database_url)
    added = {"ix_chrono_runs_scheduled_status", "ix_chrono_runs_status_scheduled"}
    assert added <= _run_indexes(url) and "ix_chrono_runs_status" not in _run_indexes(url)
    command.downgrade(alembic_config(url), "0007")
    assert not added & _run_indexes(url) and "ix_chrono_runs_status" in _run_indexes(url)
    upgrade(url)
    assert added <= _run_indexes(url)
    now = utcnow()
    chrono = stack.create_http_chrono("http://127.0.0.1:9/o")
    spec = [("success", 1), ("success", 2), ("failed", 3), ("timeout", 4), ("failed", 30), ("timeout", 50)]
    rows = [{"id": new_id(), "chrono_id": chrono["id"], "scheduled_for": now - timedelta(hours=hours), "attempt": 1,
             "trigger": "schedule", "status": status, "error_message": f"{status} {hours}h", "created_at": now}
            for status, hours in spec]

    async def seed() -> None:
        async with stack.db.session() as session:
            await session.execute(insert(ChronoRun), rows)
    stack.db_run(seed())
    figures = stack.db_run(overview(stack.db, take=3))
    assert figures.runs_by_status == {"success": 2, "failed": 1, "timeout": 1}
    assert [f.error for f in figures.failures] == ["failed 3h", "timeout 4h", "failed 30h"]
    assert figures.chronos[("HTTP", True)] == 1 and figures.next_fires[0].id == chrono["id"]
