"""Contacts as a CSV file the import reads back: ``phone``, ``name``, ``tags`` (``;``-separated),
then one column per attribute name, sorted. A cell that a spreadsheet would run as a formula gets a
leading apostrophe (:mod:`chronoflow.spreadsheet_cells`); the import drops it again. Read in pages
by id so memory holds one page of rows at a time, whatever the number of contacts."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from chronoflow.contacts.service import tags_of
from chronoflow.spreadsheet_cells import guarded
from chronoflow.store.engine import Database
from chronoflow.store.models import Contact, ContactTag, Tag

__all__ = ["export_csv"]

PAGE = 2000
"""Contacts read per query."""


def _cell(value: Any) -> str:
    """An attribute value as the import would read it back (text; empty for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([guarded(value) for value in values])
    return out.getvalue()


async def export_csv(db: Database, tag: str | None = None) -> AsyncIterator[str]:
    """The CSV text, header first, in chunks of one page of contacts (all, or those with ``tag``)."""
    query = select(Contact.id, Contact.phone, Contact.name, Contact.attributes).order_by(Contact.id)
    if tag is not None:
        query = query.join(ContactTag, ContactTag.contact_id == Contact.id).join(
            Tag, Tag.id == ContactTag.tag_id).where(Tag.name == tag)
    async with db.session() as session:
        keys: set[str] = set()
        for (attributes,) in await session.execute(query.with_only_columns(Contact.attributes)):
            keys.update(attributes or {})
        columns = sorted(keys)
        yield _line(["phone", "name", "tags", *columns])
        last = ""
        while True:
            rows = list(await session.execute(query.where(Contact.id > last).limit(PAGE)))
            if not rows:
                return
            tags = await tags_of(session, [row[0] for row in rows])
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            for ident, phone, name, attributes in rows:
                writer.writerow([guarded(cell) for cell in (
                    phone, name or "", ";".join(tags[ident]),
                    *(_cell((attributes or {}).get(key)) for key in columns))])
            yield out.getvalue()
            last = rows[-1][0]
