"""The contact service: one row per normalized phone, with name, attributes, tags and WhatsApp state.

``optedOut`` is never stored on a contact: it is read from the opt-out list by phone, so an opt-out
arriving through a webhook shows on the contact at once. Unknown tag names given with a contact are
created (see :mod:`chronoflow.contacts.tags`).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.channels.optout_store import opted_out_among
from chronoflow.contacts.fields import (
    checked_attributes,
    checked_contact_name,
    checked_phone,
    checked_tag_names,
)
from chronoflow.contacts.tags import QUERY_CHUNK, insert_ignoring, tag_ids
from chronoflow.errors import Conflict, InvalidInput
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import Contact, ContactTag, OptOut, Tag, WhatsAppState
from chronoflow.store.uniqueness import unique_as_conflict

__all__ = ["NEWEST_FIRST", "ContactRecord", "ContactService", "tags_of"]

MAX_QUERY_CHARS = 100
"""Longest ``q`` search text."""

NEWEST_FIRST = (Contact.created_at.desc(), Contact.id)
"""The order of ``GET /contacts``; the index ``ix_contacts_newest`` has exactly these columns and
directions."""


@dataclass(frozen=True)
class ContactRecord:
    """A contact as the API shows it: the row, its tag names (sorted), and whether it opted out."""

    contact: Contact
    tags: list[str]
    opted_out: bool


async def tags_of(session: AsyncSession, contact_ids: Sequence[str]) -> dict[str, builtins.list[str]]:
    """Tag names of each contact in ``contact_ids``, sorted."""
    found: dict[str, list[str]] = {ident: [] for ident in contact_ids}
    ids = list(found)
    for start in range(0, len(ids), QUERY_CHUNK):
        rows = await session.execute(
            select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)
            .where(ContactTag.contact_id.in_(ids[start : start + QUERY_CHUNK])).order_by(Tag.name)
        )
        for contact_id, name in rows:
            found[contact_id].append(name)
    return found


def _opted_out() -> Any:
    return exists().where(OptOut.number == Contact.phone)


def _with_tag(name: str) -> Any:
    return exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id == Tag.id, Tag.name == name)


class ContactService:
    """Create, read, list, change and delete contacts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, fields: dict[str, Any]) -> ContactRecord:
        """A new contact from camelCase ``fields``; Conflict when the phone is taken."""
        phone = checked_phone(fields.get("phone"))
        name = checked_contact_name(fields.get("name"))
        attributes = checked_attributes(fields.get("attributes"))
        tags = checked_tag_names(fields.get("tags"))
        with unique_as_conflict("phone", f"another contact already has the number {phone}"):
            async with self.db.session() as session:
                await self._refuse_taken(session, phone)
                contact = Contact(phone=phone, name=name, attributes=attributes)
                session.add(contact)
                await session.flush()
                await self._set_tags(session, contact.id, tags)
                return await self._record(session, contact)

    async def get(self, contact_id: str) -> ContactRecord:
        async with self.db.session() as session:
            return await self._record(session, await get_or_404(session, Contact, contact_id, "contact"))

    async def list(self, skip: int, take: int, *, tag: str | None = None, q: str | None = None,
                   opted_out: bool | None = None) -> tuple[builtins.list[ContactRecord], int]:
        """A page of contacts, newest first, filtered by tag name, text in name or phone, and opt-out."""
        query = select(Contact)
        if tag is not None:
            query = query.where(_with_tag(tag))
        if q is not None and q.strip():
            text = q.strip()
            if len(text) > MAX_QUERY_CHARS:
                raise InvalidInput("q", f"must be at most {MAX_QUERY_CHARS} characters")
            pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            digits = "".join(c for c in text if c in "0123456789")
            matches = [func.lower(Contact.name).like(pattern, escape="\\")]
            if digits:
                matches.append(Contact.phone.like(f"%{digits}%"))
            query = query.where(or_(*matches))
        if opted_out is not None:
            query = query.where(_opted_out() if opted_out else ~_opted_out())
        async with self.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = list(await session.scalars(query.order_by(*NEWEST_FIRST).offset(skip).limit(take)))
            tags = await tags_of(session, [c.id for c in rows])
            out = await opted_out_among(session, [c.phone for c in rows])
            return [ContactRecord(c, tags[c.id], c.phone in out) for c in rows], int(total or 0)

    async def update(self, contact_id: str, fields: dict[str, Any]) -> ContactRecord:
        """Change the given fields; ``attributes`` and ``tags`` replace the stored ones."""
        with unique_as_conflict("phone", "another contact already has that number"):
            return await self._update(contact_id, fields)

    async def _update(self, contact_id: str, fields: dict[str, Any]) -> ContactRecord:
        async with self.db.session() as session:
            contact = await get_or_404(session, Contact, contact_id, "contact")
            if "phone" in fields:
                phone = checked_phone(fields["phone"])
                if phone != contact.phone:
                    await self._refuse_taken(session, phone)
                    contact.phone = phone
                    # a validation was for the old number
                    contact.whatsapp = WhatsAppState.UNKNOWN
                    contact.whatsapp_chat_id = contact.whatsapp_checked_at = None
            if "name" in fields:
                contact.name = checked_contact_name(fields["name"])
            if "attributes" in fields:
                contact.attributes = checked_attributes(fields["attributes"])
            if "tags" in fields:
                tags = checked_tag_names(fields["tags"])
                await session.execute(delete(ContactTag).where(ContactTag.contact_id == contact.id))
                await self._set_tags(session, contact.id, tags)
            contact.updated_at = utcnow()
            return await self._record(session, contact)

    async def delete(self, contact_id: str) -> None:
        async with self.db.session() as session:
            await session.delete(await get_or_404(session, Contact, contact_id, "contact"))

    # --- helpers -------------------------------------------------------------------------------
    @staticmethod
    async def _refuse_taken(session: AsyncSession, phone: str) -> None:
        other = await session.scalar(select(Contact.id).where(Contact.phone == phone))
        if other is not None:
            raise Conflict(f"phone: contact {other} already has the number {phone}", field="phone")

    @staticmethod
    async def _set_tags(session: AsyncSession, contact_id: str, names: builtins.list[str]) -> None:
        ids = await tag_ids(session, names)
        if ids:
            await session.execute(insert_ignoring(session, ContactTag, ["contact_id", "tag_id"]),
                                  [{"contact_id": contact_id, "tag_id": ident} for ident in ids.values()])

    async def _record(self, session: AsyncSession, contact: Contact) -> ContactRecord:
        await session.flush()
        tags = await tags_of(session, [contact.id])
        return ContactRecord(contact, tags[contact.id], bool(await opted_out_among(session, [contact.phone])))
