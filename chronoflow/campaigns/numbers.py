"""``validateNumbers``: a contact never checked is checked through the sending channel before its first send.

The gateway's answer is stored on the contact as ``POST /contacts/validate`` stores it: ``valid``
with the chat id (where the message then goes: for a Brazilian number registered before the ninth
digit, WAHA accepts a send to the 13-digit id and the message never arrives) or ``invalid`` (the
row is skipped, not on WhatsApp). A contact checked since the snapshot is not asked about again. A send
refused as "not on WhatsApp" (:func:`mark_invalid`) is stored the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from chronoflow.store.engine import utcnow
from chronoflow.store.models import CampaignRecipient, Contact, WhatsAppState

if TYPE_CHECKING:
    from chronoflow.channels.base import WhatsAppProvider
    from chronoflow.targets.base import ExecutionContext


def send_number(phone: str, chat_id: str | None) -> str:
    """Where the message goes: the gateway's chat id of a validated contact (its digits), else the phone."""
    if chat_id:
        user = chat_id.split("@", 1)[0]
        if user.isascii() and user.isdigit():
            return user
    return phone


@dataclass(frozen=True)
class Verdict:
    """Where the message goes (``chat_id``), or that the number is not on WhatsApp (``on_whatsapp`` False)."""

    on_whatsapp: bool
    chat_id: str | None


async def check_before_send(ctx: ExecutionContext, provider: WhatsAppProvider, row: dict[str, Any]) -> Verdict:
    """The contact's stored verdict, or the gateway's (then stored on the contact and the row).

    Raises:
        ProviderError: the gateway refused or could not be reached; nothing is stored.
    """
    async with ctx.db.session() as session:
        known = (await session.execute(select(Contact.whatsapp, Contact.whatsapp_chat_id)
                                       .where(Contact.id == row["contact_id"]))).first()
    if known is not None and known[0] != WhatsAppState.UNKNOWN:
        return Verdict(known[0] == WhatsAppState.VALID, known[1])
    (check,) = await provider.check_numbers([row["phone"]])
    chat_id = check.chat_id if check.exists else None
    state = WhatsAppState.VALID if check.exists else WhatsAppState.INVALID
    async with ctx.db.session() as session:
        if row["contact_id"] is not None:
            await session.execute(update(Contact).where(Contact.id == row["contact_id"]).values(
                whatsapp=state, whatsapp_chat_id=chat_id, whatsapp_checked_at=utcnow()))
        if chat_id:
            await session.execute(update(CampaignRecipient).where(CampaignRecipient.id == row["id"])
                                  .values(chat_id=chat_id))
    return Verdict(check.exists, chat_id)


async def mark_invalid(ctx: ExecutionContext, contact_id: str | None) -> None:
    """The gateway refused a send because the number has no WhatsApp (Evolution's ``exists: false``): remember it."""
    if contact_id is None:
        return
    async with ctx.db.session() as session:
        await session.execute(update(Contact).where(Contact.id == contact_id).values(
            whatsapp=WhatsAppState.INVALID, whatsapp_chat_id=None, whatsapp_checked_at=utcnow()))


__all__ = ["Verdict", "check_before_send", "mark_invalid"]
