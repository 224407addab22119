"""Campaign operations the API exposes: CRUD, start (the snapshot), pause, resume, cancel, retries, a test send.

Status machine::

    draft ──start──▶ scheduled ──first step──▶ sending ◀──resume── paused
      │                 │  └────────pause─────────┼──────pause────────▶│
      │                 │                         └──▶ completed       │
      └──────── cancel (from any of draft, scheduled, sending, paused) ──▶ cancelled

Every change validates first and then writes the campaign, its rows and its chrono's job in one
transaction (the job write inside it, as for chronos), so bad input leaves nothing behind.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.campaigns.driving import arm, campaign_chrono, disarm
from chronoflow.campaigns.fields import EDITABLE_AFTER_START, checked_campaign
from chronoflow.campaigns.numbers import send_number
from chronoflow.campaigns.progress import Progress, progress
from chronoflow.campaigns.snapshot import Snapshot, take_snapshot
from chronoflow.campaigns.step import WAITING_FOR_CHANNEL
from chronoflow.channels import MissingVariable, render
from chronoflow.channels.connected import connected_provider
from chronoflow.config import Settings
from chronoflow.contacts.fields import checked_phone
from chronoflow.errors import Conflict, InvalidInput
from chronoflow.scheduling.jobs import JobStore
from chronoflow.scheduling.reading import first_fire_time, read_schedule
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Channel,
    Chrono,
    Contact,
    RecipientStatus,
)

PAUSED_BY_OPERATOR = "paused by the operator"
CANCELLED_NOTE = "campaign cancelled"


@dataclass(frozen=True)
class TestSend:
    """What ``POST /campaigns/{id}/test`` sent."""

    channel_id: str
    phone: str
    text: str
    provider_message_id: str | None


def _stored_fields(c: Campaign) -> dict[str, Any]:
    return {"name": c.name, "channelIds": c.channel_ids, "messageTemplate": c.message_template,
            "variants": c.variants, "audience": c.audience, "delayMinSeconds": c.delay_min_seconds,
            "delayMaxSeconds": c.delay_max_seconds, "window": c.window,
            "dailyQuotaPerChannel": c.daily_quota_per_channel, "hourlyQuotaPerChannel": c.hourly_quota_per_channel,
            "maxAttempts": c.max_attempts, "maxConsecutiveFailures": c.max_consecutive_failures,
            "startAt": c.start_at, "rewriteFunctionId": c.rewrite_function_id, "validateNumbers": c.validate_numbers}


class CampaignService:
    """The campaign operations; each one a transaction."""

    def __init__(self, db: Database, jobs: JobStore, settings: Settings) -> None:
        self.db = db
        self.jobs = jobs
        self.settings = settings

    # --- CRUD ---------------------------------------------------------------------------------
    async def create(self, fields: dict[str, Any]) -> Campaign:
        async with self.db.session() as session:
            values = await checked_campaign(fields, session, self.settings.default_timezone, utcnow())
            campaign = Campaign(**values, status=CampaignStatus.DRAFT, pacing={})
            session.add(campaign)
        return campaign

    async def get(self, campaign_id: str) -> Campaign:
        async with self.db.session() as session:
            return await get_or_404(session, Campaign, campaign_id, "campaign")

    async def list(self, skip: int, take: int, status: str | None) -> tuple[builtins.list[Campaign], int]:
        query = select(Campaign)
        if status is not None:
            query = query.where(Campaign.status == status)
        async with self.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(query.order_by(Campaign.created_at.desc(), Campaign.id)
                                         .offset(skip).limit(take))
            return list(rows), int(total or 0)

    async def update(self, campaign_id: str, changes: dict[str, Any]) -> Campaign:
        """Change a campaign: anything in ``draft``; pacing and limits in ``scheduled`` and ``paused``."""
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED):
                raise Conflict(f"a {campaign.status} campaign cannot be edited (pause it first)")
            if campaign.status != CampaignStatus.DRAFT:
                frozen = sorted(set(changes) - EDITABLE_AFTER_START)
                if frozen:
                    raise Conflict(f"{frozen[0]} cannot change once the audience is snapshotted; "
                                   f"only {', '.join(sorted(EDITABLE_AFTER_START))} can")
            values = await checked_campaign({**_stored_fields(campaign), **changes}, session,
                                            self.settings.default_timezone, utcnow())
            for key, value in values.items():
                setattr(campaign, key, value)
            campaign.updated_at = utcnow()
        return campaign

    async def delete(self, campaign_id: str) -> None:
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED):
                raise Conflict(f"a {campaign.status} campaign cannot be deleted: pause or cancel it first")
            chrono_id = campaign.chrono_id
            await session.delete(campaign)
            if chrono_id is not None:
                await disarm(session, self.jobs, chrono_id)
                chrono = await session.get(Chrono, chrono_id)
                if chrono is not None:
                    await session.delete(chrono)

    async def with_progress(self, campaign_id: str) -> tuple[Campaign, Progress]:
        """The campaign and its rows counted by status, read together."""
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            return campaign, await progress(session, campaign_id)

    async def recipients(self, campaign_id: str, status: str | None, skip: int, take: int
                         ) -> tuple[builtins.list[CampaignRecipient], int]:
        """A page of the campaign's rows (those with ``status``), oldest first."""
        async with self.db.session() as session:
            await get_or_404(session, Campaign, campaign_id, "campaign")
            query = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
            if status is not None:
                query = query.where(CampaignRecipient.status == status)
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(query.order_by(CampaignRecipient.created_at, CampaignRecipient.id)
                                         .offset(skip).limit(take))
            return list(rows), int(total or 0)

    # --- the status machine -------------------------------------------------------------------
    async def start(self, campaign_id: str, seed: int | None = None) -> tuple[Campaign, Snapshot]:
        """Snapshot the audience into rows and arm the first step (at ``startAt``, else now)."""
        now = utcnow()
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status != CampaignStatus.DRAFT:
                raise Conflict(f"only a draft campaign can start; this one is {campaign.status}")
            zone = (campaign.window or {}).get("timezone") or self.settings.default_timezone
            due: datetime | None = now
            if campaign.start_at:
                due = first_fire_time(read_schedule(campaign.start_at, zone, now, field="startAt"), now)
                if due is None or due < now:
                    raise InvalidInput("startAt", "names no future time")
            snapshot = await take_snapshot(session, campaign, seed)
            chrono = campaign_chrono(campaign.name, zone)
            session.add(chrono)
            await session.flush()
            campaign.chrono_id = chrono.id
            campaign.status = CampaignStatus.SCHEDULED if campaign.start_at else CampaignStatus.SENDING
            campaign.started_at = None if campaign.start_at else now
            campaign.updated_at = now
            if snapshot.by_status.get(RecipientStatus.PENDING, 0) == 0:
                campaign.status, campaign.finished_at = CampaignStatus.COMPLETED, now
            else:
                await arm(session, self.jobs, chrono.id, due, zone)  # type: ignore[arg-type]
        return campaign, snapshot

    async def pause(self, campaign_id: str, reason: str = PAUSED_BY_OPERATOR) -> Campaign:
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
                raise Conflict(f"only a scheduled or sending campaign can pause; this one is {campaign.status}")
            campaign.status, campaign.paused_reason, campaign.updated_at = CampaignStatus.PAUSED, reason, utcnow()
            if campaign.chrono_id:
                await disarm(session, self.jobs, campaign.chrono_id)
        return campaign

    async def resume(self, campaign_id: str) -> Campaign:
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status != CampaignStatus.PAUSED:
                raise Conflict(f"only a paused campaign can resume; this one is {campaign.status}")
            await self._send_again(session, campaign)
        return campaign

    async def _send_again(self, session: AsyncSession, campaign: Campaign) -> None:
        now = utcnow()
        campaign.status, campaign.paused_reason = CampaignStatus.SENDING, None
        campaign.consecutive_failures, campaign.updated_at, campaign.finished_at = 0, now, None
        campaign.started_at = campaign.started_at or now
        zone = (campaign.window or {}).get("timezone") or self.settings.default_timezone
        assert campaign.chrono_id is not None
        await arm(session, self.jobs, campaign.chrono_id, now, zone)

    async def cancel(self, campaign_id: str) -> Campaign:
        """Stop for good: pending rows become ``skipped`` (campaign cancelled), the job goes."""
        now = utcnow()
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
                raise Conflict(f"the campaign is already {campaign.status}")
            campaign.status, campaign.finished_at, campaign.updated_at = CampaignStatus.CANCELLED, now, now
            campaign.paused_reason = None  # a cancelled campaign is not waiting for anything
            await session.execute(
                update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id,
                                                CampaignRecipient.status == RecipientStatus.PENDING)
                .values(status=RecipientStatus.SKIPPED, error=CANCELLED_NOTE, updated_at=now)
                .execution_options(synchronize_session=False))
            if campaign.chrono_id:
                await disarm(session, self.jobs, campaign.chrono_id)
        return campaign

    async def retry_failed(self, campaign_id: str) -> tuple[Campaign, int]:
        """Failed rows back to pending (``uncertain`` ones are not touched); a completed campaign sends again."""
        now = utcnow()
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED):
                raise Conflict(f"a {campaign.status} campaign has no rows to retry")
            result = await session.execute(
                update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id,
                                                CampaignRecipient.status == RecipientStatus.FAILED)
                .values(status=RecipientStatus.PENDING, attempts=0, error=None, next_attempt_at=None,
                        claimed_by=None, sent_at=None, updated_at=now)
                .execution_options(synchronize_session=False))
            count = int(getattr(result, "rowcount", 0) or 0)
            if count and campaign.status == CampaignStatus.COMPLETED:
                await self._send_again(session, campaign)
        return campaign, count

    async def retry_uncertain(self, campaign_id: str) -> tuple[Campaign, int]:
        """The operator's call on ``uncertain`` rows: re-queue them (the contact may get the message twice).

        Rows still waiting for their chat to be read are left alone: the step settles them first.
        """
        now = utcnow()
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED):
                raise Conflict(f"a {campaign.status} campaign has no rows to retry")
            result = await session.execute(
                update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id,
                                                CampaignRecipient.status == RecipientStatus.UNCERTAIN,
                                                CampaignRecipient.next_attempt_at.is_(None))
                .values(status=RecipientStatus.PENDING, attempts=0, error=None, claimed_by=None, sent_at=None,
                        updated_at=now)
                .execution_options(synchronize_session=False))
            count = int(getattr(result, "rowcount", 0) or 0)
            if count and campaign.status == CampaignStatus.COMPLETED:
                await self._send_again(session, campaign)
        return campaign, count

    async def resume_waiting(self) -> int:
        """Campaigns paused for want of a WORKING channel send again once one of theirs is WORKING."""
        async with self.db.session() as session:
            waiting = list(await session.scalars(select(Campaign).where(
                Campaign.status == CampaignStatus.PAUSED, Campaign.paused_reason.startswith(WAITING_FOR_CHANNEL))))
            working = set(await session.scalars(select(Channel.id).where(Channel.status == "WORKING")))
            resumed = 0
            for campaign in waiting:
                if working & set(campaign.channel_ids):
                    await self._send_again(session, campaign)
                    resumed += 1
        return resumed

    # --- a test send ----------------------------------------------------------------------------
    async def send_test(self, campaign_id: str, phone: object) -> TestSend:
        """Send the campaign's message to one number now, through its first WORKING channel; no row changes."""
        number = checked_phone(phone)
        async with self.db.session() as session:
            campaign = await get_or_404(session, Campaign, campaign_id, "campaign")
            contact = await session.scalar(select(Contact).where(Contact.phone == number))
            channels = {c.id: c for c in await session.scalars(
                select(Channel).where(Channel.id.in_(campaign.channel_ids)))}
        values: dict[str, Any] = {"phone": number}
        if contact is not None:
            values = {**contact.attributes, "name": contact.name, "phone": number}
        try:
            text = render(campaign.message_template, values)
        except MissingVariable as exc:
            raise InvalidInput("phone", f"no contact with this number has a value for {{{{{exc.name}}}}}") from None
        channel = next((channels[i] for i in campaign.channel_ids
                        if i in channels and channels[i].status == "WORKING"), None)
        if channel is None:
            raise Conflict("none of the campaign's channels is WORKING")
        target = send_number(number, contact.whatsapp_chat_id if contact is not None else None)
        async with connected_provider(channel, self.settings, client=None) as provider:
            sent = await provider.send_text(target, text)
        return TestSend(channel.id, number, text, sent.id)


__all__ = ["WAITING_FOR_CHANNEL", "CampaignService", "TestSend"]
