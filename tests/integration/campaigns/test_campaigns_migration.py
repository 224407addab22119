"""Migration 0007 (campaigns, campaign_recipients) goes up and down on both backends."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from chronoflow.config import async_database_url
from chronoflow.store.engine import create_engine
from chronoflow.store.migrations import alembic_config, upgrade

CAMPAIGN_TABLES = {"campaigns", "campaign_recipients"}


def _schema(url: str) -> tuple[set[str], set[str]]:
    """Table names, and the index names of ``campaign_recipients`` when it exists."""
    async def load() -> tuple[set[str], set[str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                def read(sync: object) -> tuple[set[str], set[str]]:
                    inspector = inspect(sync)
                    tables = set(inspector.get_table_names())
                    indexes = ({i["name"] for i in inspector.get_indexes("campaign_recipients")}
                               if "campaign_recipients" in tables else set())
                    return tables, indexes
                return await conn.run_sync(read)
        finally:
            await engine.dispose()
    return asyncio.run(load())


def test_migration_0007_upgrades_and_downgrades(database_url: str) -> None:
    """It adds the campaign tables with their indexes, removes them on downgrade, and adds them again."""
    url = async_database_url(database_url)
    upgrade(url)
    tables, indexes = _schema(url)
    assert CAMPAIGN_TABLES <= tables
    assert {"ix_campaign_recipients_next", "ix_campaign_recipients_quota", "ix_campaign_recipients_message"} <= indexes
    command.downgrade(alembic_config(url), "0006")
    tables, _ = _schema(url)
    assert not CAMPAIGN_TABLES & tables and "contacts" in tables
    upgrade(url)
    assert CAMPAIGN_TABLES <= _schema(url)[0]
