"""Delivery receipts: a row moves ``sent → delivered → read`` when the gateway says so, never backwards.

The receipt names the provider's message id, the one the send answered and the row keeps
(``provider_message_id``, indexed). A receipt that arrives late (``delivered`` after ``read``) or
twice changes nothing; the campaign's counters follow, since they are counted from the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from chronoflow.channels.webhooks import Receipt
from chronoflow.store.engine import utcnow
from chronoflow.store.models import CampaignRecipient, RecipientStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

BEFORE = {
    Receipt.DELIVERED: (RecipientStatus.SENT,),
    Receipt.READ: (RecipientStatus.SENT, RecipientStatus.DELIVERED),
}
"""The row states each receipt may move a row from."""


async def record_receipt(session: AsyncSession, message_id: str, receipt: Receipt) -> int:
    """Move the rows of ``message_id`` forward to ``receipt``, in the open transaction; returns how many moved."""
    result = await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.provider_message_id == message_id,
               CampaignRecipient.status.in_([str(s) for s in BEFORE[receipt]]))
        .values(status=RecipientStatus(receipt.value), updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["record_receipt"]
