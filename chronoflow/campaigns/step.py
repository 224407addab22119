"""One send step of a campaign: at most one message per WORKING channel, then the next due time.

The step never sleeps through a delay: it sends what is due now and moves the chrono's single
job to the earliest instant something can be sent again (a channel's random delay, the window's
next opening, the next quota period, a retry's backoff).

Exactly one message per contact (invariant 7):

- a row is claimed ``pending → sending`` by a conditional UPDATE, stamped with this run's id,
  before the gateway call; only the claim's holder records the outcome;
- the step first re-arms its chrono a short lease ahead, so a worker killed mid-step does not
  strand the campaign; the next step finds the dead step's claims (their run no longer
  ``running``: the reaper failed it) and marks them ``uncertain``, never re-sending them, as it
  does a send whose request went out without an answer; a later step looks for their text in the
  chat (:mod:`chronoflow.campaigns.settle`);
- opt-outs are read at send time; the window is checked immediately before the gateway call;
- a channel's quota is counted inside the claim's UPDATE, from rows stamped in the period.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, func, or_, select, update

from chronoflow.campaigns.driving import arm, disarm
from chronoflow.campaigns.numbers import check_before_send, mark_invalid, send_number
from chronoflow.campaigns.rewrite import Sandbox, rewrite
from chronoflow.campaigns.settle import SETTLE_AFTER, settle_uncertain
from chronoflow.campaigns.snapshot import SKIP_INVALID
from chronoflow.campaigns.window import SendingWindow, next_period, period_start
from chronoflow.channels.connected import connected_provider
from chronoflow.channels.errors import ChannelNotConnected, NotOnWhatsApp, ProviderError
from chronoflow.channels.optout_store import opted_out_among
from chronoflow.errors import InvalidInput, Unavailable
from chronoflow.store.engine import utcnow
from chronoflow.store.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Channel,
    ChronoRun,
    RecipientStatus,
    RunStatus,
)
from chronoflow.targets.base import ExecutionContext, TargetResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.store.models import Chrono

log = logging.getLogger(__name__)

R = cast(Table, CampaignRecipient.__table__)

STEP_LEASE = timedelta(seconds=5)
"""How far ahead a step first re-arms its chrono: the next step comes then if this one dies."""
NOT_READY_PAUSE = timedelta(seconds=5)
"""How long a channel that answered "session not ready" is left out of the rotation."""
CLAIM_TRIES = 5
"""Claims lost to a concurrent step before a channel gives up for this step."""
MAX_SKIPS = 50
"""Opted-out rows a channel may pass over in one step before it yields."""
COUNTED = (RecipientStatus.SENDING, RecipientStatus.SENT, RecipientStatus.DELIVERED, RecipientStatus.READ,
           RecipientStatus.UNCERTAIN)
"""Rows that used a channel's quota: the message left, or may have."""
WAITING_FOR_CHANNEL = "no channel is WORKING"
"""Start of the pausedReason of a campaign that resumes by itself when one of its channels works again."""
LOST_CLAIM = "the send step stopped between claiming and recording: the message may have left"
NOT_READY_MARKS = ("status is not as expected", "not connected", "connection closed")
"""How the gateways word "the session cannot send now" (WAHA 422, Evolution 400): not the recipient's fault."""


def session_not_ready(exc: ProviderError) -> bool:
    """Whether a refused send means the channel, not the recipient, is the problem."""
    return exc.http_status in (400, 409, 422) and any(m in exc.detail.lower() for m in NOT_READY_MARKS)


@dataclass
class Plan:
    """What one step learned about when to come back."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    rewrite_failed: int = 0
    rest: dict[str, datetime] = field(default_factory=dict)
    """Channels that answered "not ready", and until when they stay out of the rotation."""
    wake: datetime | None = None
    pause_reason: str | None = None

    def later(self, when: datetime) -> None:
        self.wake = when if self.wake is None else min(self.wake, when)


def quota_limits(campaign: Campaign, now: datetime) -> list[tuple[int, datetime, datetime]]:
    """(limit, period start, next period start) of each quota the campaign sets, in the window's zone."""
    zone = (campaign.window or {}).get("timezone") or "UTC"
    limits = []
    if campaign.daily_quota_per_channel:
        limits.append((campaign.daily_quota_per_channel, period_start(now, zone, 24), next_period(now, zone, 24)))
    if campaign.hourly_quota_per_channel:
        limits.append((campaign.hourly_quota_per_channel, period_start(now, zone, 1), next_period(now, zone, 1)))
    return limits


def _used(campaign_id: str, channel_id: str, since: datetime) -> Any:
    return (select(func.count()).select_from(R)
            .where(R.c.campaign_id == campaign_id, R.c.channel_id == channel_id, R.c.sent_at >= since,
                   R.c.status.in_([str(s) for s in COUNTED])).scalar_subquery())


async def _claim(ctx: ExecutionContext, campaign: Campaign, channel_id: str, run_id: str, now: datetime,
                 plan: Plan) -> dict[str, Any] | None:
    """Claim the next due pending row for ``channel_id``; None when none is due or the quota is used up."""
    limits = quota_limits(campaign, now)
    for _ in range(CLAIM_TRIES):
        async with ctx.db.engine.begin() as conn:
            for limit, since, following in limits:
                if int(await conn.scalar(select(_used(campaign.id, channel_id, since))) or 0) >= limit:
                    plan.later(following)
                    return None
            candidate = await conn.scalar(
                select(R.c.id).where(R.c.campaign_id == campaign.id, R.c.status == RecipientStatus.PENDING,
                                     or_(R.c.next_attempt_at.is_(None), R.c.next_attempt_at <= now))
                .order_by(R.c.created_at, R.c.id).limit(1))
            if candidate is None:
                return None
            guards = [R.c.id == candidate, R.c.status == RecipientStatus.PENDING]
            guards += [_used(campaign.id, channel_id, since) < limit for limit, since, _ in limits]
            claimed = await conn.execute(update(R).where(and_(*guards)).values(
                status=RecipientStatus.SENDING, channel_id=channel_id, claimed_by=run_id,
                attempts=R.c.attempts + 1, sent_at=now, updated_at=now))
            if claimed.rowcount == 1:
                row = (await conn.execute(select(R).where(R.c.id == candidate))).mappings().one()
                return dict(row)
    return None


async def _record(ctx: ExecutionContext, row_id: str, run_id: str, **values: Any) -> None:
    """Write a claimed row's outcome; only the claim's holder can."""
    async with ctx.db.engine.begin() as conn:
        await conn.execute(update(R).where(R.c.id == row_id, R.c.status == RecipientStatus.SENDING,
                                           R.c.claimed_by == run_id).values(updated_at=utcnow(), **values))


def _release() -> dict[str, Any]:
    """Values that put a claimed row back as it was: nothing left, the attempt not counted."""
    return {"status": RecipientStatus.PENDING, "attempts": R.c.attempts - 1, "sent_at": None, "claimed_by": None}


async def _send_one(ctx: ExecutionContext, campaign: Campaign, channel: Channel, window: SendingWindow | None,
                    run: ChronoRun, plan: Plan, sandbox: Sandbox | None) -> bool:
    """Send at most one message through ``channel``; False when the channel has nothing to do now."""
    for _ in range(MAX_SKIPS):
        now = utcnow()
        row = await _claim(ctx, campaign, channel.id, run.id, now, plan)
        if row is None:
            return False
        async with ctx.db.session() as session:
            blocked = await opted_out_among(session, [row["phone"]])
        if blocked:
            await _record(ctx, row["id"], run.id, status=RecipientStatus.SKIPPED, error="opted out", sent_at=None)
            plan.skipped += 1
            continue
        break
    else:
        return False
    if campaign.validate_numbers and not row["chat_id"]:
        try:
            async with connected_provider(channel, ctx.settings, client=ctx.http) as checker:
                verdict = await check_before_send(ctx, checker, row)
        except (ChannelNotConnected, InvalidInput) as exc:
            return await _not_now(ctx, campaign, channel, row, run.id, plan, str(exc))
        except ProviderError as exc:
            if session_not_ready(exc):
                return await _not_now(ctx, campaign, channel, row, run.id, plan, str(exc))
            await _fail(ctx, campaign, row, run.id, f"number check: {exc}", plan)
            return True
        if not verdict.on_whatsapp:
            await _record(ctx, row["id"], run.id, status=RecipientStatus.SKIPPED, error=SKIP_INVALID, sent_at=None)
            plan.skipped += 1
            return True
        row["chat_id"] = verdict.chat_id
    text = row["sent_text"] or row["text"] or ""
    if campaign.rewrite_function_id and row["sent_text"] is None:
        try:
            rewritten = await rewrite(ctx, campaign.id, campaign.rewrite_function_id, row, sandbox)
        except Unavailable as exc:  # this worker has no sandbox: not the contact's fault
            log.warning("campaign %s: rewrite function cannot run here: %s", campaign.id, exc)
            await _record(ctx, row["id"], run.id, **_release())
            plan.later(utcnow() + NOT_READY_PAUSE)
            return False
        if rewritten.text is None:
            await _record(ctx, row["id"], run.id, status=RecipientStatus.FAILED, error=rewritten.error, sent_at=None)
            plan.rewrite_failed += 1
            return True
        text = rewritten.text
        await _record(ctx, row["id"], run.id, sent_text=text)
    if window is not None and not window.is_open(utcnow()):  # measured at the gateway call
        await _record(ctx, row["id"], run.id, **_release())
        plan.later(window.next_opening(utcnow()))
        return False
    try:
        provider = connected_provider(channel, ctx.settings, client=ctx.http)
        async with provider:
            sent = await provider.send_text(send_number(row["phone"], row["chat_id"]), text)
    except (ChannelNotConnected, InvalidInput) as exc:
        return await _not_now(ctx, campaign, channel, row, run.id, plan, str(exc))
    except NotOnWhatsApp:
        await mark_invalid(ctx, row["contact_id"])
        await _record(ctx, row["id"], run.id, status=RecipientStatus.SKIPPED, error=SKIP_INVALID, sent_at=None)
        plan.skipped += 1
        return True
    except ProviderError as exc:
        if session_not_ready(exc):
            return await _not_now(ctx, campaign, channel, row, run.id, plan, str(exc))
        if exc.maybe_delivered:
            # The request went out and no clear answer came (no answer, or a 5xx): it may have been
            # accepted, so it is never re-sent.
            await _record(ctx, row["id"], run.id, status=RecipientStatus.UNCERTAIN, error=str(exc),
                          next_attempt_at=utcnow() + SETTLE_AFTER)
            return True
        await _fail(ctx, campaign, row, run.id, str(exc), plan)
        return True
    except Exception:
        # The request may have reached the gateway: the outcome is unknown, so never retried.
        log.exception("campaign %s: send to row %s broke", campaign.id, row["id"])
        await _record(ctx, row["id"], run.id, status=RecipientStatus.UNCERTAIN, error="the send broke; see the log",
                      next_attempt_at=utcnow() + SETTLE_AFTER)
        return True
    await _record(ctx, row["id"], run.id, status=RecipientStatus.SENT, provider_message_id=sent.id, error=None,
                  sent_text=text)
    plan.sent += 1
    return True


async def _not_now(ctx: ExecutionContext, campaign: Campaign, channel: Channel, row: dict[str, Any], run_id: str,
                   plan: Plan, reason: str) -> bool:
    """The channel cannot send now (not the recipient's fault): the row goes back to pending, untouched,
    and the channel rests out of the rotation for :data:`NOT_READY_PAUSE`."""
    await _record(ctx, row["id"], run_id, **_release())
    plan.rest[channel.id] = utcnow() + NOT_READY_PAUSE
    plan.later(plan.rest[channel.id])
    log.info("campaign %s: channel %s cannot send now: %s", campaign.id, channel.id, reason)
    return False


async def _fail(ctx: ExecutionContext, campaign: Campaign, row: dict[str, Any], run_id: str, error: str,
                plan: Plan) -> None:
    """A refused send: retried with exponential backoff until ``maxAttempts``, then ``failed``."""
    plan.failed += 1
    if row["attempts"] >= campaign.max_attempts:
        await _record(ctx, row["id"], run_id, status=RecipientStatus.FAILED, error=error, sent_at=None)
        return
    backoff = timedelta(milliseconds=ctx.settings.job_backoff_ms * 2 ** (row["attempts"] - 1))
    await _record(ctx, row["id"], run_id, status=RecipientStatus.PENDING, error=error, sent_at=None,
                  claimed_by=None, next_attempt_at=utcnow() + backoff)
    plan.later(utcnow() + backoff)


async def mark_lost_claims(session: AsyncSession, campaign_id: str) -> int:
    """Claims whose step is no longer running become ``uncertain``; returns how many."""
    running = select(ChronoRun.id).where(ChronoRun.status == RunStatus.RUNNING)
    result = await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == RecipientStatus.SENDING,
               or_(CampaignRecipient.claimed_by.is_(None), CampaignRecipient.claimed_by.not_in(running)))
        .values(status=RecipientStatus.UNCERTAIN, error=LOST_CLAIM, updated_at=utcnow(), next_attempt_at=utcnow())
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def _remaining(session: AsyncSession, campaign_id: str
                     ) -> tuple[int, int, datetime | None, datetime | None]:
    """Pending rows, rows being sent, the earliest retry among the pending, and the earliest
    ``uncertain`` row still to be looked for in its chat (see :mod:`chronoflow.campaigns.settle`)."""
    row = (await session.execute(
        select(func.count().filter(CampaignRecipient.status == RecipientStatus.PENDING),
               func.count().filter(CampaignRecipient.status == RecipientStatus.SENDING),
               func.min(CampaignRecipient.next_attempt_at).filter(
                   CampaignRecipient.status == RecipientStatus.PENDING),
               func.min(CampaignRecipient.next_attempt_at).filter(
                   CampaignRecipient.status == RecipientStatus.UNCERTAIN))
        .where(CampaignRecipient.campaign_id == campaign_id))).one()
    return int(row[0] or 0), int(row[1] or 0), row[2], row[3]


async def run_step(chrono: Chrono, run: ChronoRun, ctx: ExecutionContext,
                   sandbox: Sandbox | None = None) -> TargetResult:
    """One step of the campaign owning ``chrono``; the run's result counts what it did.

    ``sandbox`` gives the worker's sandbox runner for the campaign's rewrite function.
    """
    jobs = ctx.jobs
    if jobs is None:
        raise RuntimeError("a campaign step needs the worker's job store")
    now = utcnow()
    async with ctx.db.session() as session:
        campaign = await session.scalar(select(Campaign).where(Campaign.chrono_id == chrono.id))
        if campaign is None or campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
            state = "gone" if campaign is None else campaign.status
            return TargetResult(RunStatus.SKIPPED, error_message=f"campaign is {state}: nothing to send")
        zone = (campaign.window or {}).get("timezone") or chrono.timezone
        await arm(session, jobs, chrono.id, now + STEP_LEASE, zone)  # the safety net, replaced below
        if campaign.status == CampaignStatus.SCHEDULED:
            campaign.status = CampaignStatus.SENDING
            campaign.started_at = campaign.started_at or now
        uncertain = await mark_lost_claims(session, campaign.id)
        channels = {c.id: c for c in await session.scalars(select(Channel).where(Channel.id.in_(campaign.channel_ids)))}
        await session.flush()  # the status change is written before the row leaves the session
        session.expunge(campaign)
    plan = Plan()
    settled = await settle_uncertain(ctx, campaign.id, channels)
    plan.sent += settled.sent
    window = SendingWindow.stored(campaign.window)
    pacing: dict[str, str] = dict(campaign.pacing or {})
    working = [channels[i] for i in campaign.channel_ids if i in channels and channels[i].status == "WORKING"]
    if not working:
        states = ", ".join(f"{c.name} is {c.status}" for c in channels.values())
        plan.pause_reason = f"{WAITING_FOR_CHANNEL}: {states or 'the channels were deleted'}"
    elif window is not None and not window.is_open(now):
        plan.later(window.next_opening(now))
    else:
        for channel in working:
            due = datetime.fromisoformat(pacing[channel.id]) if channel.id in pacing else now
            if due > now:
                plan.later(due)
                continue
            if await _send_one(ctx, campaign, channel, window, run, plan, sandbox):
                delay = random.uniform(campaign.delay_min_seconds, campaign.delay_max_seconds)
                following = utcnow() + timedelta(seconds=delay)
                pacing[channel.id] = following.isoformat()
                plan.later(following)
            elif channel.id in plan.rest:
                pacing[channel.id] = plan.rest[channel.id].isoformat()
    return await _finish(ctx, campaign, chrono, zone, pacing, plan, uncertain)


async def _finish(ctx: ExecutionContext, campaign: Campaign, chrono: Chrono, zone: str, pacing: dict[str, str],
                  plan: Plan, uncertain: int) -> TargetResult:
    """Store the step's effects on the campaign and move (or drop) the chrono's job."""
    jobs = ctx.jobs
    assert jobs is not None
    now = utcnow()
    async with ctx.db.session() as session:
        stored = await session.get(Campaign, campaign.id, with_for_update=True)
        if stored is None or stored.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
            await disarm(session, jobs, chrono.id)  # paused or cancelled while the step ran
            return TargetResult(RunStatus.SUCCESS, result={"sent": plan.sent, "stopped": True})
        stored.pacing = pacing
        failures = stored.consecutive_failures + plan.failed if not plan.sent else plan.failed
        stored.consecutive_failures = failures
        pending, sending, retry_at, settle_at = await _remaining(session, campaign.id)
        if failures >= stored.max_consecutive_failures:
            plan.pause_reason = f"{failures} sends failed in a row (maxConsecutiveFailures)"
        if plan.pause_reason is not None:
            stored.status, stored.paused_reason = CampaignStatus.PAUSED, plan.pause_reason
            await disarm(session, jobs, chrono.id)
        elif pending == 0 and sending == 0 and settle_at is None:
            stored.status, stored.finished_at = CampaignStatus.COMPLETED, now
            await disarm(session, jobs, chrono.id)
        else:
            wake = plan.wake or now
            if pending and retry_at is not None and plan.wake is None:
                wake = max(wake, retry_at)
            if sending and not pending:
                wake = now + STEP_LEASE  # another step holds the last claims: look again later
            if settle_at is not None:
                wake = settle_at if not pending and not sending else min(wake, settle_at)
            await arm(session, jobs, chrono.id, max(wake, now), zone)
    result = {"sent": plan.sent, "failed": plan.failed, "skipped": plan.skipped, "uncertain": uncertain,
              "rewriteFailed": plan.rewrite_failed}
    return TargetResult(RunStatus.SUCCESS, result=result, response_snippet=f"sent {plan.sent}")


__all__ = ["run_step", "send_number", "session_not_ready"]
