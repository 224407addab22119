"""Settling ``uncertain`` rows from the gateway: was the message sent after all?

A row is ``uncertain`` when its send may have reached the gateway but no answer was recorded (the
step died between the claim and the record, or the connection broke after the request went out).
It is never re-sent on its own (invariant 7). Instead a later step reads the chat's recent
messages from the gateway, once, a little after the row became uncertain (the gateway lists a
message it accepted within moments): when our text is there the row is ``sent`` (with the
gateway's message id, so delivery receipts find it); otherwise it stays ``uncertain`` for the
operator, who may re-queue it (``POST /campaigns/{id}/retry-uncertain``).

A row waiting for that look has ``next_attempt_at`` set; the campaign does not complete before
every such row has been looked at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from chronoflow.campaigns.numbers import send_number
from chronoflow.channels.connected import connected_provider
from chronoflow.channels.errors import ChannelNotConnected, ProviderError
from chronoflow.errors import InvalidInput
from chronoflow.store.engine import utcnow
from chronoflow.store.models import CampaignRecipient, RecipientStatus

if TYPE_CHECKING:
    from chronoflow.store.models import Channel
    from chronoflow.targets.base import ExecutionContext

log = logging.getLogger(__name__)

SETTLE_AFTER = timedelta(seconds=2)
"""How long after a send became uncertain its chat is read: time for the gateway to list it."""
SETTLE_RETRY = timedelta(seconds=30)
"""When the chat could not be read (gateway busy, channel down), how long until the next try."""
SETTLE_BATCH = 10
"""Rows looked at per step, so a step stays short."""
HISTORY = 20
"""Messages of the chat read: the campaign's message is among the latest if it was sent."""
NOT_FOUND = f"not among the chat's last {HISTORY} messages: left to the operator (retry-uncertain re-sends it)"


@dataclass
class Settled:
    """What one pass did."""

    sent: int = 0
    left: int = 0


async def _due(ctx: ExecutionContext, campaign_id: str) -> list[Any]:
    now = utcnow()
    async with ctx.db.session() as session:
        return list((await session.execute(
            select(CampaignRecipient.id, CampaignRecipient.phone, CampaignRecipient.chat_id,
                   CampaignRecipient.channel_id, CampaignRecipient.text, CampaignRecipient.sent_text,
                   CampaignRecipient.error)
            .where(CampaignRecipient.campaign_id == campaign_id,
                   CampaignRecipient.status == RecipientStatus.UNCERTAIN,
                   CampaignRecipient.next_attempt_at.is_not(None), CampaignRecipient.next_attempt_at <= now)
            .order_by(CampaignRecipient.next_attempt_at).limit(SETTLE_BATCH))).all())


async def _settle(ctx: ExecutionContext, row_id: str, **values: Any) -> None:
    async with ctx.db.session() as session:
        await session.execute(update(CampaignRecipient).where(
            CampaignRecipient.id == row_id, CampaignRecipient.status == RecipientStatus.UNCERTAIN,
        ).values(updated_at=utcnow(), **values).execution_options(synchronize_session=False))


async def settle_uncertain(ctx: ExecutionContext, campaign_id: str, channels: dict[str, Channel]) -> Settled:
    """Look for the text of each due ``uncertain`` row in its chat; settle it ``sent`` when found."""
    settled = Settled()
    for row in await _due(ctx, campaign_id):
        channel = channels.get(row.channel_id or "")
        text = row.sent_text or row.text or ""
        if channel is None:
            await _settle(ctx, row.id, next_attempt_at=None, error=f"{row.error}; its channel is gone: {NOT_FOUND}")
            settled.left += 1
            continue
        try:
            async with connected_provider(channel, ctx.settings, client=ctx.http) as provider:
                history = await provider.recent_messages(send_number(row.phone, row.chat_id), HISTORY)
        except (ChannelNotConnected, InvalidInput, ProviderError) as exc:
            retry = not isinstance(exc, ProviderError) or exc.retryable or exc.http_status in (409, 422)
            log.info("campaign %s: chat of row %s not readable now: %s", campaign_id, row.id, exc)
            if retry:
                await _settle(ctx, row.id, next_attempt_at=utcnow() + SETTLE_RETRY)
            else:  # this gateway cannot list the chat: the operator decides
                await _settle(ctx, row.id, next_attempt_at=None, error=f"{row.error}; chat not readable: {exc}")
                settled.left += 1
            continue
        match = next((m for m in history if m.from_me and m.text == text), None)
        if match is None:
            await _settle(ctx, row.id, next_attempt_at=None, error=f"{row.error}; {NOT_FOUND}")
            settled.left += 1
        else:
            await _settle(ctx, row.id, status=RecipientStatus.SENT, next_attempt_at=None, sent_text=text,
                          provider_message_id=match.id, error=None, claimed_by=None)
            settled.sent += 1
    return settled


__all__ = ["SETTLE_AFTER", "Settled", "settle_uncertain"]
