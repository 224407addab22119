"""``POST /contacts/validate``: ask a channel's gateway which contacts are on WhatsApp.

Each contact checked gets ``whatsapp`` ``valid`` (with the chat id the gateway gave) or
``invalid``, and the time of the check. The chat id matters: WAHA answers 201 to a send to
``55DD9XXXXXXXX@c.us`` for a Brazilian number registered before the ninth digit, and the message
never arrives; the chat id from the check (without the 9) is where it must go.

The gateway is asked outside any database transaction; results are written in one afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.channels.service import client_for, existing_channel_id
from chronoflow.config import Settings
from chronoflow.errors import InvalidInput
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.models import Channel, Contact, ContactTag, Tag, WhatsAppState

__all__ = ["MAX_VALIDATE", "ValidationReport", "validate_contacts"]

MAX_VALIDATE = 1000
"""Most contacts one request checks: WAHA takes one call per number."""
_BATCH = 100
"""Numbers per gateway call (Evolution takes a list)."""


@dataclass(frozen=True)
class ValidationReport:
    checked: int
    valid: int
    invalid: int


async def _selected(session: AsyncSession, contact_ids: list[str] | None, tag: str | None) -> list[tuple[str, str]]:
    """(id, phone) of the contacts to check: the ids given, else those with ``tag``, else all."""
    query = select(Contact.id, Contact.phone).order_by(Contact.created_at, Contact.id)
    if contact_ids is not None:
        if not contact_ids or len(contact_ids) > MAX_VALIDATE:
            raise InvalidInput("contactIds", f"give 1-{MAX_VALIDATE} contact ids")
        rows = [(i, p) for i, p in await session.execute(query.where(Contact.id.in_(contact_ids)))]
        missing = set(contact_ids) - {ident for ident, _ in rows}
        if missing:
            raise InvalidInput("contactIds", f"no contact with id {sorted(missing)[0]!r}")
        return rows
    field = "tag" if tag is not None else "body"
    if tag is not None:
        query = query.join(ContactTag, ContactTag.contact_id == Contact.id).join(
            Tag, Tag.id == ContactTag.tag_id).where(Tag.name == tag)
    rows = [(i, p) for i, p in await session.execute(query.limit(MAX_VALIDATE + 1))]
    if len(rows) > MAX_VALIDATE:
        raise InvalidInput(field, f"selects more than {MAX_VALIDATE} contacts; validate them by tag or by ids")
    return rows


async def validate_contacts(db: Database, settings: Settings, channel_id: object,
                            contact_ids: list[str] | None = None, tag: str | None = None) -> ValidationReport:
    """Check the selected contacts' numbers through the channel and store the answers.

    Raises:
        InvalidInput: naming ``channelId``, ``contactIds`` or ``tag``.
        ProviderError: the gateway refused or could not be reached; nothing is written.
    """
    async with db.session() as session:
        ident = await existing_channel_id(session, channel_id, "channelId")
        channel = await session.get(Channel, ident)
        selected = await _selected(session, contact_ids, tag)
    assert channel is not None
    phones = [phone for _, phone in selected]
    results = {}
    async with client_for(channel, settings) as client:
        for start in range(0, len(phones), _BATCH):
            for check in await client.check_numbers(phones[start : start + _BATCH]):
                results[check.number] = check
    now = utcnow()
    values = [{"b_id": cid, "b_state": (WhatsAppState.VALID if results[p].exists else WhatsAppState.INVALID).value,
               "b_chat": results[p].chat_id if results[p].exists else None, "b_at": now}
              for cid, p in selected]
    if values:
        async with db.session() as session:
            await session.execute(
                update(Contact.__table__).where(Contact.__table__.c.id == bindparam("b_id")).values(
                    whatsapp=bindparam("b_state"), whatsapp_chat_id=bindparam("b_chat"),
                    whatsapp_checked_at=bindparam("b_at")),
                values,
            )
    valid = sum(1 for v in values if v["b_state"] == WhatsAppState.VALID)
    return ValidationReport(checked=len(values), valid=valid, invalid=len(values) - valid)
