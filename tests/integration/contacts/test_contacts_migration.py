"""Migration 0006 (tags, contacts, contact_tags) goes up and down on both backends."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from chronoflow.config import async_database_url
from chronoflow.store.engine import create_engine
from chronoflow.store.migrations import alembic_config, upgrade

AUDIENCE_TABLES = {"tags", "contacts", "contact_tags"}


def _schema(url: str) -> tuple[set[str], set[str]]:
    """Table names, and the index names of ``contact_tags`` when it exists."""
    async def load() -> tuple[set[str], set[str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                def read(sync: object) -> tuple[set[str], set[str]]:
                    inspector = inspect(sync)
                    tables = set(inspector.get_table_names())
                    indexes = ({i["name"] for i in inspector.get_indexes("contact_tags")}
                               if "contact_tags" in tables else set())
                    return tables, indexes
                return await conn.run_sync(read)
        finally:
            await engine.dispose()
    return asyncio.run(load())


def test_migration_0006_upgrades_and_downgrades(database_url: str) -> None:
    """It adds the audience tables with the tag-first index, removes them on downgrade, and adds them again."""
    url = async_database_url(database_url)
    upgrade(url)
    tables, indexes = _schema(url)
    assert AUDIENCE_TABLES <= tables and "ix_contact_tags_tag_contact" in indexes
    command.downgrade(alembic_config(url), "0005")
    tables, _ = _schema(url)
    assert not AUDIENCE_TABLES & tables and "opt_outs" in tables
    upgrade(url)
    assert AUDIENCE_TABLES <= _schema(url)[0]
