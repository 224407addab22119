"""The campaign's chrono: one one-shot occurrence at a time, moved by each send step.

The chrono (target ``CAMPAIGN``) is a one-shot schedule whose instant is the next step's due time.
Claiming an occurrence deactivates a one-shot chrono (:func:`chronoflow.worker.runs.claim_occurrence`);
:func:`arm` activates it again at the next due time, row and schedule job together, so the chrono
always has exactly one job while the campaign sends and none while it is paused, finished or
cancelled (invariant 1). The job is written inside the caller's transaction: a Redis failure rolls
the row back, and a job whose commit failed finds an inactive chrono and does nothing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update

from chronoflow.config import MAX_MISFIRE_GRACE_SECONDS
from chronoflow.scheduling.jobs import JobStore, ScheduleSpec
from chronoflow.store.models import Chrono, TargetType

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

STEP_EXPRESSION = "campaign send steps"
"""The ``cron`` text of a campaign's chrono: its times are set by the steps, not parsed."""

STEP_GRACE_SECONDS = MAX_MISFIRE_GRACE_SECONDS
"""A late step still runs (the window and quotas are checked at send time), never ``missed``."""


def campaign_chrono(name: str, timezone: str) -> Chrono:
    """A new, inactive chrono for a campaign named ``name``."""
    return Chrono(name=f"campaign: {name}"[:200], cron=STEP_EXPRESSION, timezone=timezone,
                  target_type=TargetType.CAMPAIGN, is_active=False, is_recurring=False,
                  misfire_grace_seconds=STEP_GRACE_SECONDS)


def _spec(chrono_id: str, due: datetime, timezone: str) -> ScheduleSpec:
    return ScheduleSpec(chrono_id=chrono_id, due=due, expression=STEP_EXPRESSION, cron=None, run_at=due,
                        timezone=timezone, misfire_grace_seconds=STEP_GRACE_SECONDS)


async def arm(session: AsyncSession, jobs: JobStore, chrono_id: str, due: datetime, timezone: str) -> None:
    """Make the next step due at ``due``: the chrono active at that instant, its one job in Redis."""
    await session.execute(update(Chrono).where(Chrono.id == chrono_id)
                          .values(is_active=True, run_at=due, next_run_at=due))
    await asyncio.to_thread(jobs.put_schedule, _spec(chrono_id, due, timezone))


async def disarm(session: AsyncSession, jobs: JobStore, chrono_id: str) -> None:
    """No next step: the chrono inactive, its job gone."""
    await session.execute(update(Chrono).where(Chrono.id == chrono_id).values(is_active=False, next_run_at=None))
    await asyncio.to_thread(jobs.remove_schedule, chrono_id)


__all__ = ["STEP_EXPRESSION", "arm", "campaign_chrono", "disarm"]
