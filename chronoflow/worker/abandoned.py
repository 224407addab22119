"""Jobs abandoned by dead workers: found in RQ's registries and accounted for (invariant 6).

A worker SIGKILLed between dequeuing a job and claiming its run leaves the job in RQ's started
registry (or in the queue's intermediate list, when it died inside the dequeue) with no run row:
RQ itself would only notice after the job's timeout, and then fail it without a record. The
active scheduler's maintenance calls :func:`recover_abandoned_jobs`, which decides per job:

- never claimed (no run row, or a manual row nobody started): put the job back on the queue.
  The database claim keeps this at most once, even if the presumed-dead worker was only slow;
- claimed: nothing here. The run row is ``running`` under the dead worker's name and
  :func:`~chronoflow.worker.runs.reap_lost_runs` fails it ("worker lost").

Manual runs the API inserted as ``running`` whose job is gone from Redis altogether are queued
again while inside their chrono's misfire grace, and recorded ``missed`` after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from redis import Redis
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from chronoflow.scheduling.jobs import JobStore, from_iso
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.models import Chrono, ChronoRun, RunStatus, RunTrigger

log = logging.getLogger(__name__)

SEEN_PREFIX = "chronoflow:abandoned:seen:"
"""``<prefix><job id>``: when a job was first seen in the intermediate list without a worker."""

INTERMEDIATE_GRACE_S = 3.0
"""How long a job may sit in the intermediate list: a live worker moves it out within milliseconds."""

ORPHAN_MANUAL_AFTER = timedelta(seconds=10)
"""Age after which a never-started manual run without a job in Redis counts as lost."""


@dataclass
class Recovery:
    """What one pass did."""

    requeued: list[str] = field(default_factory=list)
    """Job ids put back on the queue."""
    missed: list[str] = field(default_factory=list)
    """Run ids of manual runs recorded ``missed``."""

    def __bool__(self) -> bool:
        return bool(self.requeued or self.missed)


async def recover_abandoned_jobs(db: Database, jobs: JobStore, is_alive: Callable[[str], bool], *,
                                 orphan_after: timedelta = ORPHAN_MANUAL_AFTER) -> Recovery:
    """Requeue the never-claimed jobs of dead workers and account for lost manual runs.

    Args:
        db: the database (the source of truth on whether a run was claimed).
        jobs: the job store whose queue is inspected.
        is_alive: ``worker name -> bool``, from the workers' heartbeats.
        orphan_after: age from which a never-started manual run without a job counts as lost.

    Returns:
        The job ids requeued and the run ids recorded missed.
    """
    recovery = Recovery()
    for job in _abandoned(jobs, is_alive):
        if await _never_claimed(db, job.kwargs):
            _requeue(jobs, job)
            recovery.requeued.append(job.id)
        else:  # claimed: its run row is the record; the reaper fails it if still running
            _forget(jobs, job.id)
    await _recover_orphan_manual_runs(db, jobs, recovery, orphan_after)
    return recovery


def _abandoned(jobs: JobStore, is_alive: Callable[[str], bool]) -> list[Job]:
    """Jobs a dead worker started, and jobs stuck in the intermediate list."""
    redis: Redis = jobs.redis
    queue = jobs.queue
    found: dict[str, Job] = {}
    registry = StartedJobRegistry(queue.name, connection=redis)
    started_ids = set()
    for entry in redis.zrange(registry.key, 0, -1):
        job_id = registry.parse_job_id(entry.decode())
        started_ids.add(job_id)
        job = Job.fetch_many([job_id], connection=redis)[0]
        if job is None:
            redis.zrem(registry.key, entry)
            log.warning("job %s in the started registry has no data left; dropped from the registry", job_id)
            continue
        if job.worker_name and is_alive(job.worker_name):
            continue
        found[job_id] = job
    intermediate = IntermediateQueue(queue.key, connection=redis)
    now = utcnow().timestamp()
    for job_id in intermediate.get_job_ids():
        if job_id in started_ids or job_id in found:
            continue
        seen_key = SEEN_PREFIX + job_id
        redis.set(seen_key, now, nx=True, ex=3600)
        first_seen = float(redis.get(seen_key) or now)
        if now - first_seen < INTERMEDIATE_GRACE_S:
            continue
        job = Job.fetch_many([job_id], connection=redis)[0]
        if job is None:
            intermediate.remove(job_id)
            redis.delete(seen_key)
            continue
        found[job_id] = job
    return list(found.values())


async def _never_claimed(db: Database, kwargs: dict[str, object]) -> bool:
    """Whether no worker claimed the occurrence this job carries."""
    run_id = kwargs.get("run_id")
    async with db.session() as session:
        if run_id is not None:
            run = await session.get(ChronoRun, run_id)
            return run is not None and run.started_at is None and run.status == RunStatus.RUNNING
        scheduled_for = from_iso(kwargs.get("scheduled_for"))  # type: ignore[arg-type]
        if scheduled_for is None:  # only stale occurrences to record: recording is idempotent
            return True
        existing = await session.scalar(select(ChronoRun.id).where(
            ChronoRun.chrono_id == kwargs["chrono_id"], ChronoRun.scheduled_for == scheduled_for,
            ChronoRun.attempt == int(kwargs.get("attempt", 1)),  # type: ignore[call-overload]
        ))
        return existing is None


def _forget(jobs: JobStore, job_id: str) -> None:
    """Drop a job's traces from the started registry and the intermediate list."""
    redis = jobs.redis
    registry = StartedJobRegistry(jobs.queue.name, connection=redis)
    with redis.pipeline() as pipe:
        for entry in redis.zrange(registry.key, 0, -1):
            if registry.parse_job_id(entry.decode()) == job_id:
                pipe.zrem(registry.key, entry)
        pipe.lrem(jobs.queue.intermediate_queue_key, 0, job_id)
        pipe.delete(SEEN_PREFIX + job_id)
        pipe.execute()


def _requeue(jobs: JobStore, job: Job) -> None:
    _forget(jobs, job.id)
    job.worker_name = None
    jobs.enqueue(job)
    log.warning("requeued job %s: its worker died before claiming the run", job.id)


async def _recover_orphan_manual_runs(db: Database, jobs: JobStore, recovery: Recovery,
                                      orphan_after: timedelta) -> None:
    """Manual runs inserted by the API that no worker started and whose job is gone."""
    now = utcnow()
    async with db.session() as session:
        rows = (await session.execute(
            select(ChronoRun, Chrono.misfire_grace_seconds).join(Chrono, Chrono.id == ChronoRun.chrono_id)
            .where(ChronoRun.status == RunStatus.RUNNING, ChronoRun.trigger == RunTrigger.MANUAL,
                   ChronoRun.started_at.is_(None), ChronoRun.created_at <= now - orphan_after)
        )).all()
        for run, grace in rows:
            job_id = f"manual_{run.id}"
            if job_id in recovery.requeued or Job.exists(job_id, connection=jobs.redis):
                continue  # still queued, or just requeued above
            if now - run.created_at <= timedelta(seconds=grace):
                jobs.enqueue_manual(run.chrono_id, run.id, run.scheduled_for)
                recovery.requeued.append(job_id)
                log.warning("requeued manual run %s: its job was lost before a worker took it", run.id)
                continue
            run.status = RunStatus.MISSED
            run.finished_at = now
            run.error_message = "missed: its job was lost before a worker took it, beyond the misfire grace"
            recovery.missed.append(run.id)


__all__ = ["Recovery", "recover_abandoned_jobs"]
