"""Make Redis match the database: the database is the truth, Redis holds only jobs.

Run at scheduler start, by the scheduler whenever Redis lost its data, and as ``chronoflow
reconcile``. For every active chrono it ensures one schedule job (added at the stored ``nextRunAt``
even if that is past, so the scheduler applies the misfire rule of invariant 3 to what was missed);
it replaces jobs whose schedule differs from the row, restores jobs whose entry in the scheduled
set is gone, and removes jobs of paused, finished or deleted chronos.

It works in batches of :data:`BATCH` chronos: the rows are streamed from the database, and each
batch's jobs are read in one pipelined round trip and written in another, so 100,000 chronos cost
a hundred round trips rather than hundreds of thousands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from chronoflow.scheduling.jobs import JobStore, ScheduleSpec
from chronoflow.scheduling.reading import first_fire_time, stored_schedule
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.models import Chrono

BATCH = 2000
"""Chronos per batch: one database fetch, one pipelined read and one pipelined write of Redis."""

_COLUMNS = (Chrono.id, Chrono.cron, Chrono.schedule_cron, Chrono.run_at, Chrono.timezone,
            Chrono.misfire_grace_seconds, Chrono.next_run_at)
"""What a schedule job is made of: the rest of the row is not read."""


@dataclass
class ReconcileReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"added {len(self.added)}, replaced {len(self.replaced)}, removed {len(self.removed)} schedule jobs"


async def reconcile(db: Database, jobs: JobStore) -> ReconcileReport:
    """Bring the schedule jobs in Redis in line with the chronos in the database.

    Redis is scanned *before* the database is read: a chrono created meanwhile is in the rows read
    (or was created after them, with its job), never taken for an orphan whose job must go.
    """
    report = ReconcileReport()
    now = utcnow()
    scheduled = await asyncio.to_thread(jobs.scheduled_chrono_ids)
    active: set[str] = set()
    async with db.session() as session:
        result = await session.stream(select(*_COLUMNS).where(Chrono.is_active.is_(True))
                                      .execution_options(yield_per=BATCH))
        async for rows in result.partitions(BATCH):
            active.update(row.id for row in rows)
            await asyncio.to_thread(_reconcile_batch, jobs, rows, now, report)
    orphans = sorted(scheduled - active)
    for start in range(0, len(orphans), BATCH):
        report.removed.extend(await _remove_orphans(db, jobs, orphans[start:start + BATCH]))
    if report.added or report.replaced:
        await asyncio.to_thread(jobs.wake)
    return report


async def _remove_orphans(db: Database, jobs: JobStore, chrono_ids: list[str]) -> list[str]:
    """Remove the jobs of those chronos that are still not active, read under lock; returns their ids.

    A chrono activated while the rows were read wrote its row, then its job, in a transaction
    that had not committed then: the lock waits for that commit (its row on PostgreSQL, the write
    lock on SQLite), and its job stays.
    """
    async with db.writing() as conn:
        rows = await conn.execute(select(Chrono.id, Chrono.is_active).where(Chrono.id.in_(chrono_ids))
                                  .with_for_update())
        activated = {row.id for row in rows if row.is_active}
        gone = [chrono_id for chrono_id in chrono_ids if chrono_id not in activated]
        if gone:
            await asyncio.to_thread(jobs.remove_schedules, gone)
    return gone


def _reconcile_batch(jobs: JobStore, rows: Sequence[Any], now: datetime, report: ReconcileReport) -> None:
    stored = jobs.read_schedules([row.id for row in rows])
    writes: list[tuple[ScheduleSpec, bool]] = []
    for row, (spec, score) in zip(rows, stored, strict=True):
        due = row.next_run_at
        if due is None:
            due = first_fire_time(_schedule(row), now)
            if due is None:
                continue
        expected = ScheduleSpec(row.id, due, row.cron, row.schedule_cron, row.run_at, row.timezone,
                                row.misfire_grace_seconds)
        if spec is None or score is None:
            writes.append((expected, spec is not None))
            report.added.append(row.id)
        elif not spec.same_schedule(expected):  # changed behind Redis's back: due from now on
            following = first_fire_time(_schedule(row), now) or due
            writes.append((replace(expected, due=following), True))
            report.replaced.append(row.id)
    if writes:
        with jobs.redis.pipeline(transaction=False) as pipe:
            jobs.put_schedules(writes, pipe)
            pipe.execute()


def _schedule(row: Any) -> Any:
    return stored_schedule(row.cron, row.schedule_cron, row.run_at, row.timezone)


__all__ = ["BATCH", "ReconcileReport", "reconcile"]
