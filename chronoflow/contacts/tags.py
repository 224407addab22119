"""Tags: unique names on contacts, the vocabulary a campaign's audience is chosen by.

Names are kept as written (outer spaces dropped) and compared exactly. Tag names a contact or an
import mentions that do not exist yet are created on the way (:func:`tag_ids`): spreadsheets bring
new labels all the time, and refusing a whole file for one new label helps nobody.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.contacts.fields import checked_tag_name
from chronoflow.errors import Conflict
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import ContactTag, Tag, new_id
from chronoflow.store.uniqueness import unique_as_conflict

__all__ = ["TagService", "insert_ignoring", "tag_ids"]

QUERY_CHUNK = 500
"""Values per ``IN (...)`` query, well under every backend's parameter limit."""


def insert_ignoring(session: AsyncSession, table: Any, conflict: builtins.list[str]) -> Any:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` for ``table`` in the session's dialect."""
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=conflict)


async def tag_ids(session: AsyncSession, names: Collection[str]) -> dict[str, str]:
    """The id of each tag in ``names`` (checked names), creating the missing ones."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    now = utcnow()
    await session.execute(insert_ignoring(session, Tag, ["name"]),
                          [{"id": new_id(), "name": name, "created_at": now, "updated_at": now} for name in wanted])
    found: dict[str, str] = {}
    for start in range(0, len(wanted), QUERY_CHUNK):
        rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted[start : start + QUERY_CHUNK])))
        found.update({name: ident for name, ident in rows})
    return found


class TagService:
    """Create, list, rename and delete tags."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: object) -> tuple[Tag, int]:
        """A new tag; Conflict when the name is taken."""
        checked = checked_tag_name(name)
        with unique_as_conflict("name", f"a tag named {checked!r} already exists"):
            async with self.db.session() as session:
                await self._refuse_taken(session, checked)
                tag = Tag(name=checked)
                session.add(tag)
                await session.flush()
        return tag, 0

    async def list(self, skip: int, take: int) -> tuple[builtins.list[tuple[Tag, int]], int]:
        """A page of tags by name, each with how many contacts carry it, and the total."""
        counts = (select(ContactTag.tag_id, func.count().label("n")).group_by(ContactTag.tag_id).subquery())
        async with self.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(Tag))
            rows = await session.execute(
                select(Tag, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.tag_id == Tag.id)
                .order_by(Tag.name).offset(skip).limit(take)
            )
            return [(tag, int(n)) for tag, n in rows], int(total or 0)

    async def get(self, tag_id: str) -> tuple[Tag, int]:
        async with self.db.session() as session:
            tag = await get_or_404(session, Tag, tag_id, "tag")
            return tag, await self._count(session, tag_id)

    async def rename(self, tag_id: str, name: object) -> tuple[Tag, int]:
        """Give a tag a new name; Conflict when another tag has it."""
        checked = checked_tag_name(name)
        with unique_as_conflict("name", f"a tag named {checked!r} already exists"):
            async with self.db.session() as session:
                tag = await get_or_404(session, Tag, tag_id, "tag")
                if checked != tag.name:
                    await self._refuse_taken(session, checked)
                    tag.name = checked
                    tag.updated_at = utcnow()
                    await session.flush()
                return tag, await self._count(session, tag_id)

    async def delete(self, tag_id: str) -> None:
        """Remove a tag; its contacts stay, without it."""
        async with self.db.session() as session:
            await session.delete(await get_or_404(session, Tag, tag_id, "tag"))

    @staticmethod
    async def _count(session: AsyncSession, tag_id: str) -> int:
        return int(await session.scalar(select(func.count()).where(ContactTag.tag_id == tag_id)) or 0)

    @staticmethod
    async def _refuse_taken(session: AsyncSession, name: str) -> None:
        if await session.scalar(select(Tag.id).where(Tag.name == name)) is not None:
            raise Conflict(f"name: a tag named {name!r} already exists", field="name")
