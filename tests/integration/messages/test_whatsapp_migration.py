"""Migrations 0002 (inbound events, opt-outs), 0004 (event keys, confirmations) and 0005 (overlap policy) go up and down on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from sqlalchemy import inspect, text

from chronoflow.config import async_database_url
from chronoflow.store.engine import create_engine
from chronoflow.store.migrations import alembic_config, upgrade


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


def _columns(url: str, table: str) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: {c["name"]: c for c in inspect(sync).get_columns(table)})
        finally:
            await engine.dispose()
    return asyncio.run(load())


def _execute(url: str, *statements: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                results = [await conn.execute(text(statement)) for statement in statements]
                return [r.fetchall() if r.returns_rows else None for r in results]
        finally:
            await engine.dispose()
    return asyncio.run(run())


def test_migration_0004_upgrades_and_downgrades(database_url: str) -> None:
    """It adds event keys, confirmations and wide statuses; a downgrade maps newer statuses to STARTING."""
    url = async_database_url(database_url)
    upgrade(url)
    assert "event_key" in _columns(url, "inbound_events") and "opt_out_confirmations" in _tables(url)
    _execute(url, "INSERT INTO channels (id, name, provider, config, status, created_at, updated_at) VALUES "
                  "('c1', 'c', 'WAHA', '{}', 'PASSKEY_CONFIRMATION_REQUIRED', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                  "INSERT INTO channels (id, name, provider, config, status, created_at, updated_at) VALUES "
                  "('c2', 'd', 'WAHA', '{}', 'WORKING', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    command.downgrade(alembic_config(url), "0003")
    assert "event_key" not in _columns(url, "inbound_events") and "opt_out_confirmations" not in _tables(url)
    (rows,) = _execute(url, "SELECT id, status FROM channels ORDER BY id")
    assert [tuple(row) for row in rows] == [("c1", "STARTING"), ("c2", "WORKING")]
    upgrade(url)
    assert "event_key" in _columns(url, "inbound_events") and "opt_out_confirmations" in _tables(url)


def test_migration_0005_upgrades_and_downgrades(database_url: str) -> None:
    """It adds chronos.overlap_policy, 'skip' for existing chronos, and removes it on downgrade."""
    url = async_database_url(database_url)
    command.upgrade(alembic_config(url), "0004")
    _execute(url, "INSERT INTO chronos (id, name, cron, timezone, target_type, is_active, is_recurring, "
                  "misfire_grace_seconds, created_at, updated_at) VALUES ('k1', 'k', '0 8 * * *', 'UTC', 'HTTP', "
                  "true, true, 300, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    upgrade(url)
    (rows,) = _execute(url, "SELECT overlap_policy FROM chronos WHERE id = 'k1'")
    assert [tuple(row) for row in rows] == [("skip",)]
    command.downgrade(alembic_config(url), "0004")
    assert "overlap_policy" not in _columns(url, "chronos")
    (rows,) = _execute(url, "SELECT id FROM chronos")
    assert [tuple(row) for row in rows] == [("k1",)]
    upgrade(url)
    assert "overlap_policy" in _columns(url, "chronos")
