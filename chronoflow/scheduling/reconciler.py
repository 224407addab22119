"""Make Redis match the database: the database is the truth, Redis holds only jobs.

Run at scheduler start and as ``chronoflow reconcile``. For every active chrono it ensures one
schedule job (added at the stored ``nextRunAt`` even if that is past, so the scheduler applies
the misfire rule of invariant 3 to what was missed); it replaces jobs whose schedule differs
from the row, and removes jobs of paused, finished or deleted chronos.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import select

from chronoflow.chronos.service import chrono_schedule, schedule_spec
from chronoflow.scheduling.jobs import JobStore
from chronoflow.scheduling.reading import first_fire_time
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.models import Chrono


@dataclass
class ReconcileReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"added {len(self.added)}, replaced {len(self.replaced)}, removed {len(self.removed)} schedule jobs"


async def reconcile(db: Database, jobs: JobStore) -> ReconcileReport:
    """Bring the schedule jobs in Redis in line with the chronos in the database."""
    report = ReconcileReport()
    now = utcnow()
    async with db.session() as session:
        chronos = list(await session.scalars(select(Chrono).where(Chrono.is_active.is_(True))))
    scheduled = await asyncio.to_thread(jobs.scheduled_chrono_ids)
    for chrono in chronos:
        stored = await asyncio.to_thread(jobs.read_schedule, chrono.id)
        schedule = chrono_schedule(chrono)
        due = chrono.next_run_at or first_fire_time(schedule, now)
        if due is None:
            continue
        expected = schedule_spec(chrono, due)
        if stored is None:
            await asyncio.to_thread(jobs.put_schedule, expected)
            report.added.append(chrono.id)
        elif (stored.expression, stored.cron, stored.run_at, stored.timezone, stored.misfire_grace_seconds) != (
            expected.expression, expected.cron, expected.run_at, expected.timezone, expected.misfire_grace_seconds
        ):
            await asyncio.to_thread(jobs.put_schedule, schedule_spec(chrono, first_fire_time(schedule, now) or due))
            report.replaced.append(chrono.id)
    active = {chrono.id for chrono in chronos}
    for orphan in sorted(scheduled - active):
        await asyncio.to_thread(jobs.remove_schedule, orphan)
        report.removed.append(orphan)
    return report
