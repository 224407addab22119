"""A campaign's progress: counters read from its rows, the pace, and when it should finish.

Counters are always counted from the rows (grouped by status), never kept as separate numbers
that could drift from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from chronoflow.store.engine import utcnow
from chronoflow.store.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

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
    """Planned sends per minute: every channel at its mean delay, capped by the hourly quotas."""
    mean = max((campaign.delay_min_seconds + campaign.delay_max_seconds) / 2, MIN_DELAY_SECONDS)
    channels = max(len(campaign.channel_ids), 1)
    rate = channels * 60 / mean
    if campaign.hourly_quota_per_channel:
        rate = min(rate, channels * campaign.hourly_quota_per_channel / 60)
    if campaign.daily_quota_per_channel:
        rate = min(rate, channels * campaign.daily_quota_per_channel / (24 * 60))
    return round(rate, 3)


def estimated_finish(campaign: Campaign, counts: Progress, now: datetime | None = None) -> datetime | None:
    """When the pending rows should all be sent at the planned rate, counting window hours only."""
    if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED, CampaignStatus.DRAFT):
        return campaign.finished_at
    now = now or utcnow()
    left = counts[RecipientStatus.PENDING] + counts[RecipientStatus.SENDING]
    minutes = left / max(rate_per_minute(campaign), 1e-6)
    window = campaign.window
    if window:
        start_h, start_m = (int(x) for x in window["start"].split(":"))
        end_h, end_m = (int(x) for x in window["end"].split(":"))
        open_share = ((end_h * 60 + end_m) - (start_h * 60 + start_m)) / (24 * 60) * len(window["days"]) / 7
        minutes /= max(open_share, 1e-3)  # windows stretch the wall-clock time
    return now + timedelta(minutes=minutes)


__all__ = ["Progress", "estimated_finish", "progress", "rate_per_minute"]
