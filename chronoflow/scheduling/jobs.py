"""RQ adapter: the one scheduled job per chrono, occurrence jobs, retries and manual runs.

Scheduled jobs live in rq-scheduler's store (the sorted set ``rq:scheduler:scheduled_jobs`` and
``rq:job:<id>`` hashes), scored by their due instant as a *float* epoch so sub-second schedules
are neither early nor rounded. Job ids are deterministic (RQ allows letters, digits, ``_`` and ``-``):

- ``chrono_<chronoId>`` — the schedule job; exactly one per active chrono (invariant 1).
- ``run_<chronoId>_<epochMs>_<attempt>`` — an occurrence handed to the queue; a duplicate
  delivery reuses the id, and the database claim makes it run once (invariant 2).
- ``retry_<chronoId>_<epochMs>_<attempt>`` — a scheduled retry of a failed attempt.
- ``manual_<runId>`` — a manual trigger, queued at once, independent of the schedule.
- ``wait_<chronoId>_<epochMs>_<attempt>_<n>`` — a buffered occurrence looking again, shortly,
  whether its chrono's previous run has finished (overlap policy ``buffer-one``).

A chrono has at most one occurrence job waiting in the queue: while the last one handed over
(remembered under :data:`PENDING_PREFIX`) is still queued, later occurrences are only counted
(:data:`COALESCED_PREFIX`, with the first and last of them) and the run that takes the waiting job
reports them as coalesced, so the queue cannot grow without bound behind a slow receiver.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq import Queue
from rq.job import Job, JobStatus
from rq_scheduler import Scheduler

SCHEDULED_JOBS_KEY = Scheduler.scheduled_jobs_key
"""rq-scheduler's sorted set of scheduled job ids."""

WAKE_KEY = "chronoflow:scheduler:wake"
"""List the scheduler blocks on; a push wakes it before its computed deadline."""

PENDING_PREFIX = "chronoflow:pending:"
"""``<prefix><chronoId>``: id of the chrono's occurrence job handed over last."""

COALESCED_PREFIX = "chronoflow:folded:"
"""``<prefix><chronoId>``: hash ``count``, ``first``, ``last`` (epoch ms) of the occurrences folded
into the chrono's waiting job and not yet reported by a run."""

BUFFER_PREFIX = "chronoflow:buffered:"
"""``<prefix><chronoId>``: epoch ms of the one occurrence of a ``buffer-one`` chrono waiting for
its previous run to finish."""

WAIT_POLL_S = 0.5
"""How often a buffered occurrence looks again whether the previous run has finished."""

RUN_FUNC = "chronoflow.worker.execute_occurrence"
"""The job function every occurrence, retry and manual job calls."""

SCHEDULE_FUNC = "chronoflow.scheduling.jobs.schedule_placeholder"
"""The function a schedule job names: never run (the scheduler turns the job into occurrence jobs),
named so RQ's tooling can read the job."""

JOB_TIMEOUT_S = 3600
"""Upper bound RQ enforces on one job; targets have their own, much shorter, timeouts."""

RESULT_TTL_S = 60
"""Results live in the database; RQ lets a finished job expire after a minute, which costs the
worker less than deleting it at once."""


SCHEDULE_PREFIX = "chrono_"
"""Schedule jobs' ids: this prefix and the chrono's id."""


def schedule_job_id(chrono_id: str) -> str:
    return SCHEDULE_PREFIX + chrono_id


def epoch_ms(instant: datetime) -> int:
    return round(instant.timestamp() * 1000)


def _from_epoch_ms(raw: bytes) -> datetime:
    return datetime.fromtimestamp(int(raw) / 1000, UTC)


def occurrence_job_id(chrono_id: str, scheduled_for: datetime, attempt: int) -> str:
    return f"run_{chrono_id}_{epoch_ms(scheduled_for)}_{attempt}"


def retry_job_id(chrono_id: str, scheduled_for: datetime, attempt: int) -> str:
    return f"retry_{chrono_id}_{epoch_ms(scheduled_for)}_{attempt}"


def iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat()


def from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class Coalesced:
    """Occurrences folded into one run instead of running: how many, and when the first and last were due.

    The range lets anyone match every due occurrence to a run row: the ones folded into a run are
    the due times inside ``[first, last]`` other than the run's own.
    """

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def __add__(self, other: Coalesced) -> Coalesced:
        if not other.count:
            return self
        if not self.count:
            return other
        assert self.first and self.last and other.first and other.last
        return Coalesced(self.count + other.count, min(self.first, other.first), max(self.last, other.last))

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class ScheduleSpec:
    """What the scheduler needs to hand over an occurrence and compute the next one without the database."""

    chrono_id: str
    due: datetime
    expression: str
    cron: str | None
    run_at: datetime | None
    timezone: str
    misfire_grace_seconds: int

    def to_args(self) -> tuple[Any, ...]:
        """The spec as the schedule job's positional arguments, instants in epoch microseconds (exact)."""
        return (self.chrono_id, _epoch_us(self.due), self.expression, self.cron,
                None if self.run_at is None else _epoch_us(self.run_at), self.timezone, self.misfire_grace_seconds)

    @classmethod
    def from_job_data(cls, args: Sequence[Any], kwargs: dict[str, Any]) -> ScheduleSpec:
        """The spec a schedule job holds, in either format: positional (this version) or keyword
        arguments with ISO instants (earlier versions, still read so their Redis keeps working)."""
        if not args:
            return cls(
                chrono_id=kwargs["chrono_id"], due=from_iso(kwargs["due"]),  # type: ignore[arg-type]
                expression=kwargs["expression"], cron=kwargs["cron"], run_at=from_iso(kwargs["run_at"]),
                timezone=kwargs["timezone"], misfire_grace_seconds=int(kwargs["misfire_grace_seconds"]),
            )
        chrono_id, due, expression, cron, run_at, timezone, grace = args
        return cls(chrono_id, _from_epoch_us(due), expression, cron,
                   None if run_at is None else _from_epoch_us(run_at), timezone, int(grace))

    @classmethod
    def from_job(cls, job: Job) -> ScheduleSpec:
        return cls.from_job_data(job.args, job.kwargs)

    def same_schedule(self, other: ScheduleSpec) -> bool:
        """Whether both describe the same schedule (their due times aside)."""
        return (self.expression, self.cron, self.run_at, self.timezone, self.misfire_grace_seconds) == (
            other.expression, other.cron, other.run_at, other.timezone, other.misfire_grace_seconds)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_us(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(microseconds=1)


def _from_epoch_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def schedule_job_fields(spec: ScheduleSpec, origin: str) -> dict[str, bytes | str]:
    """The schedule job's hash: RQ's ``data`` (function and arguments, pickled as RQ pickles them),
    ``status`` and ``origin``, and nothing else.

    The job is never executed, only read by the scheduler and the reconciler, and RQ reads every
    missing field as unset, so rq-scheduler's tooling still lists it. Leaving out RQ's dozen other
    fields keeps an active chrono within a few hundred bytes of Redis. The pickle is not compressed
    (RQ reads uncompressed data too): a payload this small does not shrink, and compressing 100,000
    of them is a third of a rebuild.
    """
    payload = pickle.dumps((SCHEDULE_FUNC, None, spec.to_args(), {}), protocol=pickle.HIGHEST_PROTOCOL)
    return {"data": payload, "status": JobStatus.SCHEDULED.value, "origin": origin}


def spec_from_job_data(data: bytes | None) -> ScheduleSpec | None:
    """The spec in a schedule job's stored ``data`` field; None when missing or unreadable."""
    if not data:
        return None
    try:
        try:
            data = zlib.decompress(data)  # as RQ writes a job (and earlier versions wrote this one)
        except zlib.error:
            pass
        _func, _instance, args, kwargs = pickle.loads(data)
        return ScheduleSpec.from_job_data(args, kwargs)
    except Exception:  # a hash written by something else: treated as no job, and replaced
        return None


class JobStore:
    """Writes and reads ChronoFlow's jobs in Redis.

    Args:
        redis: a synchronous client (RQ's jobs are pickled, so ``decode_responses`` must be off).
        queue_name: the RQ queue occurrences go to.
    """

    def __init__(self, redis: Redis, queue_name: str) -> None:
        self.redis = redis
        self.queue = Queue(queue_name, connection=redis)

    # --- the schedule job -------------------------------------------------------------------
    def put_schedule(self, spec: ScheduleSpec, pipeline: Pipeline | None = None) -> None:
        """Create or replace the chrono's schedule job, due at ``spec.due``, and wake the scheduler."""
        job_id = schedule_job_id(spec.chrono_id)
        pipe = pipeline if pipeline is not None else self.redis.pipeline()
        self._write_schedule_hash(spec, pipe, replacing=True)
        pipe.zadd(SCHEDULED_JOBS_KEY, {job_id: spec.due.timestamp()})
        self._wake(pipe)
        if pipeline is None:
            pipe.execute()

    def put_schedules(self, specs: Sequence[tuple[ScheduleSpec, bool]], pipeline: Pipeline) -> None:
        """:meth:`put_schedule` for a batch, on ``pipeline``, with one scheduled-set write and no
        wake-up (the caller wakes the scheduler once, at the end). Each spec comes with whether a
        job may already be there (its old fields are cleared first)."""
        if not specs:
            return
        for spec, replacing in specs:
            self._write_schedule_hash(spec, pipeline, replacing)
        pipeline.zadd(SCHEDULED_JOBS_KEY, {schedule_job_id(spec.chrono_id): spec.due.timestamp() for spec, _ in specs})

    def _write_schedule_hash(self, spec: ScheduleSpec, pipe: Pipeline, replacing: bool) -> None:
        key = Job.key_for(schedule_job_id(spec.chrono_id))
        if replacing:
            pipe.delete(key)  # a job in an earlier format has fields this one does not set
        pipe.hset(key, mapping=schedule_job_fields(spec, self.queue.name))  # type: ignore[arg-type]

    def remove_schedule(self, chrono_id: str, pipeline: Pipeline | None = None) -> None:
        """Drop the chrono's schedule job (pause, delete, one-shot done)."""
        job_id = schedule_job_id(chrono_id)
        pipe = pipeline if pipeline is not None else self.redis.pipeline()
        pipe.zrem(SCHEDULED_JOBS_KEY, job_id)
        pipe.delete(Job.key_for(job_id))
        if pipeline is None:
            pipe.execute()

    def scheduled_due(self, chrono_id: str) -> float | None:
        """Epoch seconds the chrono's schedule job is due, or None when it has none."""
        return self.redis.zscore(SCHEDULED_JOBS_KEY, schedule_job_id(chrono_id))

    def count_schedule_jobs(self, chrono_id: str) -> int:
        """How many scheduled jobs in Redis belong to this chrono's schedule (0 or 1 when healthy)."""
        job_id = schedule_job_id(chrono_id).encode()
        return sum(1 for member, _ in self.redis.zscan_iter(SCHEDULED_JOBS_KEY) if member == job_id)

    def scheduled_chrono_ids(self) -> set[str]:
        """Chrono ids that have a schedule job."""
        ids = set()
        for member, _ in self.redis.zscan_iter(SCHEDULED_JOBS_KEY, match=SCHEDULE_PREFIX + "*", count=5000):
            ids.add(member.decode()[len(SCHEDULE_PREFIX):])
        return ids

    def read_schedule(self, chrono_id: str) -> ScheduleSpec | None:
        """The stored schedule job's spec, if any."""
        return spec_from_job_data(self.redis.hget(Job.key_for(schedule_job_id(chrono_id)), "data"))

    def read_schedules(self, chrono_ids: Sequence[str]) -> list[tuple[ScheduleSpec | None, float | None]]:
        """For each chrono, its schedule job's spec and its due score, in one round trip.

        A hash without its entry in the scheduled set never fires: its score is None.
        """
        if not chrono_ids:
            return []
        job_ids = [schedule_job_id(chrono_id) for chrono_id in chrono_ids]
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(Job.key_for(job_id), "data")
            pipe.zmscore(SCHEDULED_JOBS_KEY, job_ids)
            *data, scores = pipe.execute()
        return [(spec_from_job_data(raw), score) for raw, score in zip(data, scores, strict=True)]

    def remove_schedules(self, chrono_ids: Sequence[str]) -> None:
        """:meth:`remove_schedule` for many chronos, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for chrono_id in chrono_ids:
                self.remove_schedule(chrono_id, pipeline=pipe)
            pipe.execute()

    def wake(self) -> None:
        """Wake the scheduler now (after a batch of schedule writes made without waking it)."""
        with self.redis.pipeline() as pipe:
            self._wake(pipe)
            pipe.execute()

    # --- occurrence, retry and manual jobs ---------------------------------------------------
    def occurrence_job(self, job_id: str, status: JobStatus | None = None, **kwargs: Any) -> Job:
        return Job.create(
            RUN_FUNC,
            kwargs=kwargs,
            status=status,
            connection=self.redis,
            id=job_id,
            origin=self.queue.name,
            timeout=JOB_TIMEOUT_S,
            result_ttl=RESULT_TTL_S,
            failure_ttl=86400,
        )

    def enqueue(self, job: Job, pipeline: Pipeline | None = None) -> None:
        """Push ``job`` onto the queue now."""
        self.queue.enqueue_job(job, pipeline=pipeline)

    def schedule_retry(self, chrono_id: str, scheduled_for: datetime, attempt: int, due: datetime) -> None:
        """Schedule attempt ``attempt`` of an occurrence at ``due``."""
        job = self.occurrence_job(
            retry_job_id(chrono_id, scheduled_for, attempt),
            status=JobStatus.SCHEDULED,
            chrono_id=chrono_id, scheduled_for=iso(scheduled_for), trigger="retry", attempt=attempt,
        )
        with self.redis.pipeline() as pipe:
            job.save(pipeline=pipe)
            pipe.zadd(SCHEDULED_JOBS_KEY, {job.id: due.timestamp()})
            self._wake(pipe)
            pipe.execute()

    def enqueue_manual(self, chrono_id: str, run_id: str, scheduled_for: datetime) -> None:
        """Queue a manual run whose row ``run_id`` already exists."""
        job = self.occurrence_job(
            f"manual_{run_id}", chrono_id=chrono_id, scheduled_for=iso(scheduled_for), trigger="manual",
            attempt=1, run_id=run_id,
        )
        self.enqueue(job)

    # --- one waiting occurrence per chrono --------------------------------------------------
    def waiting_occurrences(self, chrono_ids: Sequence[str], watching: Pipeline) -> set[str]:
        """The chronos among ``chrono_ids`` whose last handed-over occurrence job no worker has taken yet.

        Those jobs are watched on ``watching`` before their statuses are read, so the transaction
        that folds an occurrence into one fails if a worker takes it in between.
        """
        if not chrono_ids:
            return set()
        pending = self.redis.mget([PENDING_PREFIX + chrono_id for chrono_id in chrono_ids])
        handed = {chrono_id: Job.key_for(job_id.decode())
                  for chrono_id, job_id in zip(chrono_ids, pending, strict=True) if job_id is not None}
        if not handed:
            return set()
        watching.watch(*handed.values())
        with self.redis.pipeline(transaction=False) as pipe:
            for key in handed.values():
                pipe.hget(key, "status")
            statuses = pipe.execute()
        queued = JobStatus.QUEUED.value.encode()
        return {chrono_id for chrono_id, status in zip(handed, statuses, strict=True) if status == queued}

    def note_handed_over(self, chrono_id: str, job_id: str, pipeline: Pipeline) -> None:
        pipeline.set(PENDING_PREFIX + chrono_id, job_id, ex=JOB_TIMEOUT_S)

    def coalesce(self, chrono_id: str, folded: Coalesced, pipeline: Pipeline) -> None:
        """Add ``folded`` to the occurrences folded into the chrono's waiting job."""
        assert folded.first and folded.last
        key = COALESCED_PREFIX + chrono_id
        pipeline.hincrby(key, "count", folded.count)
        pipeline.hsetnx(key, "first", epoch_ms(folded.first))
        pipeline.hset(key, "last", epoch_ms(folded.last))  # handed over in order: the latest is last
        pipeline.expire(key, JOB_TIMEOUT_S)

    def take_coalesced(self, chrono_id: str) -> Coalesced:
        """Occurrences folded into the chrono's runs since the last call (read and reset at once)."""
        with self.redis.pipeline() as pipe:
            pipe.hgetall(COALESCED_PREFIX + chrono_id)
            pipe.delete(COALESCED_PREFIX + chrono_id)
            stored, _ = pipe.execute()
        if not stored.get(b"count"):
            return Coalesced()
        return Coalesced(int(stored[b"count"]), _from_epoch_ms(stored[b"first"]), _from_epoch_ms(stored[b"last"]))

    # --- overlap policy buffer-one -----------------------------------------------------------
    def hold_buffer(self, chrono_id: str, scheduled_for: datetime, ttl_s: int) -> bool:
        """Take (or keep) the chrono's one waiting place for this occurrence; False when another holds it."""
        key, mine = BUFFER_PREFIX + chrono_id, str(epoch_ms(scheduled_for)).encode()
        if self.redis.set(key, mine, nx=True, ex=max(1, ttl_s)):
            return True
        return self.redis.get(key) == mine

    def buffered(self, chrono_id: str) -> datetime | None:
        """The occurrence holding the chrono's one waiting place, if any."""
        held = self.redis.get(BUFFER_PREFIX + chrono_id)
        return None if held is None else _from_epoch_ms(held)

    def release_buffer(self, chrono_id: str, scheduled_for: datetime) -> None:
        """Free the waiting place if this occurrence holds it."""
        key = BUFFER_PREFIX + chrono_id
        if self.redis.get(key) == str(epoch_ms(scheduled_for)).encode():
            self.redis.delete(key)

    def schedule_wait(self, chrono_id: str, scheduled_for: datetime, attempt: int, **kwargs: Any) -> None:
        """Hand the occurrence over again in :data:`WAIT_POLL_S`, unchanged but for the job id."""
        due = datetime.now(UTC).timestamp() + WAIT_POLL_S
        job = self.occurrence_job(
            f"wait_{chrono_id}_{epoch_ms(scheduled_for)}_{attempt}_{round(due * 1000)}",
            status=JobStatus.SCHEDULED, chrono_id=chrono_id, scheduled_for=iso(scheduled_for),
            trigger="schedule", attempt=attempt, **kwargs,
        )
        with self.redis.pipeline() as pipe:
            job.save(pipeline=pipe)
            pipe.zadd(SCHEDULED_JOBS_KEY, {job.id: due})
            self._wake(pipe)
            pipe.execute()

    # --- scheduler wake-up -------------------------------------------------------------------
    @staticmethod
    def _wake(pipe: Pipeline) -> None:
        pipe.lpush(WAKE_KEY, 1)
        pipe.ltrim(WAKE_KEY, 0, 0)


def schedule_placeholder(**_kwargs: Any) -> None:
    """Never run: schedule jobs are turned into occurrence jobs by the scheduler."""
    raise RuntimeError("a schedule job reached a worker; it should have been handed over by the scheduler")
