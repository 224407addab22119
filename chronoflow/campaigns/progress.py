"""A campaign's progress: counters read from its rows, the pace, and when it should finish.

Counters are always counted from the rows (grouped by status), never kept as separate numbers
that could drift from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from chronoflow.campaigns.window import SendingWindow, next_period
from chronoflow.store.engine import utcnow
from chronoflow.store.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

MAX_DAYS_ESTIMATED = 3660
"""Days :func:`estimated_finish` looks ahead before it gives up (ten years)."""

MIN_DELAY_SECONDS = 0.05
"""Floor of the mean delay in the rate estimate: a step itself takes some time."""


@dataclass(frozen=True)
class Progress:
    """Row counts by status (every status present, zeros included), with the total."""

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __getitem__(self, status: str) -> int:
        return self.counts.get(status, 0)


async def progress(session: AsyncSession, campaign_id: str) -> Progress:
    """The campaign's rows counted by status (one grouped query over the status index)."""
    rows = await session.execute(
        select(CampaignRecipient.status, func.count()).where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(CampaignRecipient.status))
    counts = {str(status): 0 for status in RecipientStatus}
    counts.update({str(status): int(count) for status, count in rows})
    return Progress(counts)


def rate_per_minute(campaign: Campaign) -> float:
    """Planned sends per minute while the campaign sends: every channel at its mean delay, capped by
    the hourly quotas. The daily quota and the window decide how long it sends, not how fast."""
    mean = max((campaign.delay_min_seconds + campaign.delay_max_seconds) / 2, MIN_DELAY_SECONDS)
    channels = max(len(campaign.channel_ids), 1)
    rate = channels * 60 / mean
    if campaign.hourly_quota_per_channel:
        rate = min(rate, channels * campaign.hourly_quota_per_channel / 60)
    return round(rate, 3)


def estimated_finish(campaign: Campaign, counts: Progress, now: datetime | None = None) -> datetime | None:
    """When the pending rows should all be sent: at the planned rate, only while the window is open,
    at most the daily quota of every channel per local day.

    Walks the days ahead one at a time (a campaign longer than :data:`MAX_DAYS_ESTIMATED` days has
    no estimate). Today's quota is taken as unused: the estimate looks forward, not at the log.
    """
    if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED, CampaignStatus.DRAFT):
        return campaign.finished_at
    at = now or utcnow()
    left = float(counts[RecipientStatus.PENDING] + counts[RecipientStatus.SENDING])
    if not left:
        return at
    rate = max(rate_per_minute(campaign), 1e-6)
    channels = max(len(campaign.channel_ids), 1)
    daily = channels * campaign.daily_quota_per_channel if campaign.daily_quota_per_channel else None
    window = SendingWindow.stored(campaign.window)
    zone = window.timezone if window is not None else "UTC"
    for _ in range(MAX_DAYS_ESTIMATED):
        if window is not None:
            at = window.next_opening(at)
        day_ends = next_period(at, zone, 24)
        sending_ends = window.closing(at) if window is not None else day_ends
        can_send = rate * (sending_ends - at).total_seconds() / 60
        if daily is not None:
            can_send = min(can_send, daily)
        if left <= can_send:
            return at + timedelta(minutes=left / rate)
        left -= can_send
        at = day_ends
    return None


__all__ = ["Progress", "estimated_finish", "progress", "rate_per_minute"]
