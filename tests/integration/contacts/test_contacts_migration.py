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


def _plan(url: str) -> str:
    """The database's plan for one page of ``GET /contacts`` (the service's own order), as text."""
    from sqlalchemy import select

    from chronoflow.contacts.service import NEWEST_FIRST
    from chronoflow.store.models import Contact

    async def explain() -> str:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                page = select(Contact.id).order_by(*NEWEST_FIRST).limit(50)
                sql = str(page.compile(conn.engine, compile_kwargs={"literal_binds": True}))
                if conn.dialect.name == "sqlite":
                    rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
                    return "\n".join(str(row[-1]) for row in rows)
                for plan in ("seqscan", "bitmapscan"):  # an empty table is cheaper to scan and sort
                    await conn.exec_driver_sql(f"SET enable_{plan} = off")
                return "\n".join(str(row[0]) for row in await conn.exec_driver_sql(f"EXPLAIN {sql}"))
        finally:
            await engine.dispose()
    return asyncio.run(explain())


def test_migration_0011_gives_the_contact_list_its_index(database_url: str) -> None:
    """It adds ix_contacts_newest, which serves GET /contacts' order with no sort step; a downgrade removes
    it (and the list sorts again), an upgrade adds it back."""
    url = async_database_url(database_url)
    upgrade(url)
    plan = _plan(url)
    assert "ix_contacts_newest" in plan and "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    command.downgrade(alembic_config(url), "0010")
    plan = _plan(url)
    assert "ix_contacts_newest" not in plan and ("TEMP B-TREE" in plan or "Sort" in plan), plan
    upgrade(url)
    assert "ix_contacts_newest" in _plan(url)
