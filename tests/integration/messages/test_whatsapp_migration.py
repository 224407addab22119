"""Migration 0002 (inbound events, opt-outs) goes up and down on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from chronoflow.config import async_database_url
from chronoflow.db import create_engine
from chronoflow.migrate import alembic_config, upgrade


def _tables(url: str) -> set[str]:
    async def load() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()
    return asyncio.run(load())


def test_migration_0002_upgrades_and_downgrades(database_url: str) -> None:
    """It adds inbound_events and opt_outs, removes them on downgrade, and adds them again."""
    url = async_database_url(database_url)
    upgrade(url)
    assert {"inbound_events", "opt_outs", "channels"} <= _tables(url)
    command.downgrade(alembic_config(url), "0001")
    tables = _tables(url)
    assert "inbound_events" not in tables and "opt_outs" not in tables and "channels" in tables
    upgrade(url)
    assert {"inbound_events", "opt_outs"} <= _tables(url)
