"""The scheduler process: hands due occurrences to the RQ queue, on time.

It builds on rq-scheduler's store and registration, with three differences from its
``Scheduler.run``: due times are float epochs (sub-second, never early); instead of polling every
60 seconds it sleeps until the earliest due job and is woken early by a push on
:data:`~chronoflow.scheduling.jobs.WAKE_KEY`; and several processes may run, one of them active, holding a
Redis lease that a standby takes over when it expires.

Handing over a schedule job is one optimistic transaction (WATCH on the job): compute the
occurrences that came due since the job's due time, queue one occurrence job for the latest one
still inside the misfire grace (older ones are passed on to be recorded as ``missed``), and move
the schedule job to the next fire time computed from the occurrence itself, so there is no drift.
An API change to the chrono's job in between aborts the transaction, which is retried. The schedule
jobs due in one pass share one such transaction, in a few round trips; when it aborts, each is
handed over in a transaction of its own.

Redis may go away and come back, empty or not. The loop never exits for it: it waits and retries
with a capped backoff, logging once when the outage starts and once when it ends, and takes its
lease again. The active scheduler also keeps a marker key (:data:`~chronoflow.scheduling.heartbeats.RECONCILED_KEY`)
that it sets when it reconciles Redis with the database; when the marker is gone, Redis lost its
data, and the scheduler reconciles again by itself.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from redis import Redis, WatchError
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.job import Job
from rq_scheduler import Scheduler

from chronoflow.scheduling.heartbeats import (
    LEADER_KEY,
    RECONCILED_KEY,
    SCHEDULER_HEARTBEAT_KEY,
    jobs_reconciled,
)
from chronoflow.scheduling.jobs import (
    SCHEDULE_PREFIX,
    SCHEDULED_JOBS_KEY,
    WAKE_KEY,
    Coalesced,
    JobStore,
    ScheduleSpec,
    iso,
    occurrence_job_id,
)
from chronoflow.scheduling.reading import next_fire_after, stored_schedule

log = logging.getLogger(__name__)

BATCH = 200
"""Due jobs handed over per pass."""
MAX_CATCH_UP = 10_000
"""Occurrences walked one by one after downtime before jumping ahead."""
PRECISE_SLEEP_S = 0.12
"""Below this, sleep locally: Redis times out blocking commands only at its own tick (10 Hz by default)."""
RETRY_FIRST_S = 0.2
"""First wait after Redis became unreachable; it doubles on each failed attempt..."""
RETRY_MAX_S = 5.0
"""...up to this, so a scheduler is back within seconds of Redis and does not hammer it meanwhile."""

PlanWrites = Callable[[Job, float, Pipeline], Callable[[Pipeline], None]]
"""Reads a due job (it may WATCH more keys on the given pipeline) and returns the writes that hand it over."""

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""What an unreachable, restarting or stalled Redis raises (a server still loading its dump included)."""

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class _SchedulePlan:
    """What handing a due schedule job over writes: its occurrence, queued or folded into the
    chrono's occurrence still waiting in the queue, and the job moved to its next fire time."""

    spec: ScheduleSpec
    occurrence: Job
    run_for: datetime | None
    folded: Coalesced
    following: datetime | None
    may_fold: bool
    """Whether the occurrence is folded into the chrono's waiting one, if there is one: only an
    on-time occurrence of a chrono that fires again (stale ones are queued to be recorded as missed).
    Folding keeps one occurrence per chrono in the queue behind a slow receiver; the waiting job is
    watched, so a worker taking it meanwhile makes the hand-over start again and queue this one
    instead: a fold is never added after the run read the folds."""

    def write(self, jobs: JobStore, pipe: Pipeline, *, folds: bool) -> None:
        if self.following is None:
            jobs.remove_schedule(self.spec.chrono_id, pipeline=pipe)
        else:  # without a wake-up: the scheduler writing it computes its next wait after the pass
            jobs.put_schedules([(replace(self.spec, due=self.following), True)], pipe)
        if folds:
            assert self.run_for is not None
            jobs.coalesce(self.spec.chrono_id, Coalesced(1, self.run_for, self.run_for) + self.folded, pipe)
            return
        jobs.enqueue(self.occurrence, pipeline=pipe)
        jobs.note_handed_over(self.spec.chrono_id, self.occurrence.id, pipe)


class ChronoScheduler(Scheduler):
    """rq-scheduler with float due times, wake-ups and a leader lease.

    Args:
        redis: connection to the jobs' Redis.
        jobs: the job store (same Redis).
        lock_ttl_ms: the leader lease; a standby takes over at most this long after the leader dies.
        maintenance: called by the leader every ``maintenance_interval_s`` (reaping lost runs).
        liveness_grace_s: after Redis was unreachable or lost its data, maintenance waits this long.
            Workers' heartbeat keys come back only at their next beat; until then a live worker
            would look dead and its runs would be failed.
        reconcile: rebuilds Redis's jobs from the database; the leader calls it when it first leads
            and whenever the marker of the last reconciliation has disappeared (Redis lost its data).
    """

    def __init__(self, redis: Redis, jobs: JobStore, lock_ttl_ms: int = 5000,
                 maintenance: Callable[[], None] | None = None, maintenance_interval_s: float = 2.0,
                 name: str | None = None, reconcile: Callable[[], object] | None = None,
                 liveness_grace_s: float = 0.0) -> None:
        super().__init__(queue=jobs.queue, connection=redis, interval=max(1, lock_ttl_ms // 1000),
                         name=name or uuid.uuid4().hex)
        self.jobs = jobs
        self.lock_ttl_ms = lock_ttl_ms
        self.maintenance = maintenance
        self.maintenance_interval_s = maintenance_interval_s
        self.liveness_grace_s = liveness_grace_s
        self.reconcile = reconcile
        self.is_leader = False
        self.stopped = threading.Event()
        self._born = False
        self._reconciled_once = False
        self._next_maintenance = 0.0
        self._next_reconcile = 0.0
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    # --- leadership ---------------------------------------------------------------------------
    def _hold_lease(self) -> bool:
        ttl = self.lock_ttl_ms
        if self.is_leader:
            self.is_leader = bool(self._renew(keys=[LEADER_KEY], args=[self.name, ttl]))
        if not self.is_leader:
            self.is_leader = bool(self.connection.set(LEADER_KEY, self.name, nx=True, px=ttl))
            if self.is_leader:
                log.info("scheduler %s is now active", self.name)
        return self.is_leader

    def _release_lease(self) -> None:
        if self.is_leader:
            self._release(keys=[LEADER_KEY], args=[self.name])
            self.is_leader = False

    # --- hand-over ----------------------------------------------------------------------------
    def hand_over_due(self, now: float | None = None) -> int:
        """Queue every job due at ``now`` (default: the current time). Returns how many were handed over.

        Jobs are queued in the order they fell due: a retry or a buffered occurrence due before a
        chrono's next occurrence is queued before it. Schedule jobs due one after another are handed
        over together (:meth:`_hand_over_schedules`); the other jobs one at a time.
        """
        now = time.time() if now is None else now
        members = self.connection.zrangebyscore(SCHEDULED_JOBS_KEY, "-inf", now, start=0, num=BATCH)
        handed = 0
        schedules: list[str] = []
        for raw in members:
            job_id = raw.decode()
            if job_id.startswith(SCHEDULE_PREFIX):
                schedules.append(job_id)
                continue
            handed += self._hand_over_schedules(schedules, now)
            schedules = []
            handed += self._hand_over(job_id, now, self._plan_one_off)
        return handed + self._hand_over_schedules(schedules, now)

    def _hand_over_schedules(self, job_ids: list[str], now_ts: float) -> int:
        """Hand schedule jobs over, in order: together when there are several, and one at a time
        those the batch leaves (unreadable ones, or all of them when something changed under it)."""
        handed, left = self._hand_over_together(job_ids, now_ts) if len(job_ids) > 1 else (0, set(job_ids))
        for job_id in job_ids:
            if job_id in left:
                handed += self._hand_over(job_id, now_ts, self._plan_schedule)
        return handed

    def _hand_over_together(self, job_ids: list[str], now_ts: float) -> tuple[int, set[str]]:
        """Hand due schedule jobs over in one optimistic transaction: how many, and the ids left to
        :meth:`_hand_over` one at a time.

        The same reads and writes as :meth:`_hand_over` for each job, a few round trips for the whole
        batch instead of five per job: WATCH every job, read them all, WATCH the occurrences they may
        fold into and read their statuses, then write everything at once. Any change to a watched job
        in between leaves the whole batch to the one-at-a-time path, which retries each job.
        """
        chrono_ids = [job_id[len(SCHEDULE_PREFIX):] for job_id in job_ids]
        with self.connection.pipeline() as pipe:
            pipe.watch(*(Job.key_for(job_id) for job_id in job_ids))
            plans, left = [], set()
            for job_id, (spec, score) in zip(job_ids, self.jobs.read_schedules(chrono_ids), strict=True):
                if score is None or score > now_ts:
                    continue
                if spec is None:
                    left.add(job_id)  # dropped there, with a warning
                    continue
                plans.append(self._schedule_plan(spec, now_ts))
            waiting = self.jobs.waiting_occurrences([p.spec.chrono_id for p in plans if p.may_fold], pipe)
            pipe.multi()
            for plan in plans:
                plan.write(self.jobs, pipe, folds=plan.spec.chrono_id in waiting)
            try:
                pipe.execute()
            except WatchError:
                return 0, set(job_ids)
        return len(plans), left

    def _hand_over(self, job_id: str, now_ts: float, plan: PlanWrites) -> int:
        """Hand one due job over in an optimistic transaction; 1 if this process did it.

        WATCH the job, check it is still due, read it, and apply ``plan``'s writes atomically. A
        change of the job in between (an API update, another scheduler's hand-over, a worker taking
        the occurrence it would be folded into) aborts the transaction, which is tried again from a
        fresh read.
        """
        with self.connection.pipeline() as pipe:
            for _ in range(5):
                try:
                    pipe.watch(Job.key_for(job_id))
                    score = pipe.zscore(SCHEDULED_JOBS_KEY, job_id)
                    if score is None or score > now_ts:
                        return 0
                    try:
                        writes = plan(Job.fetch(job_id, connection=self.connection), now_ts, pipe)
                    except Exception:
                        log.warning("dropping unreadable scheduled job %s", job_id)
                        pipe.multi()
                        pipe.zrem(SCHEDULED_JOBS_KEY, job_id)
                        pipe.execute()
                        return 0
                    pipe.multi()
                    writes(pipe)
                    pipe.execute()
                    return 1
                except WatchError:
                    continue
        return 0

    def _plan_schedule(self, job: Job, now_ts: float, watching: Pipeline) -> Callable[[Pipeline], None]:
        """A schedule job: queue its occurrence and move it to the next fire time (or drop it)."""
        plan = self._schedule_plan(ScheduleSpec.from_job(job), now_ts)
        folds = plan.may_fold and bool(self.jobs.waiting_occurrences([plan.spec.chrono_id], watching))
        return partial(plan.write, self.jobs, folds=folds)

    def _schedule_plan(self, spec: ScheduleSpec, now_ts: float) -> _SchedulePlan:
        run_for, stale, folded, following = self._occurrences(spec, datetime.fromtimestamp(now_ts, UTC))
        occurrence = self.jobs.occurrence_job(
            occurrence_job_id(spec.chrono_id, run_for or stale[-1], 1),
            chrono_id=spec.chrono_id, scheduled_for=iso(run_for), trigger="schedule", attempt=1,
            next_run_at=iso(following), missed=[iso(s) for s in stale[-100:]],
            missed_total=len(stale), coalesced=folded.count, coalesced_from=iso(folded.first),
        )
        may_fold = run_for is not None and not stale and following is not None
        return _SchedulePlan(spec, occurrence, run_for, folded, following, may_fold)

    def _plan_one_off(self, job: Job, _now_ts: float, _watching: Pipeline) -> Callable[[Pipeline], None]:
        """A retry job: move it to the queue, once."""

        def writes(pipe: Pipeline) -> None:
            pipe.zrem(SCHEDULED_JOBS_KEY, job.id)
            self.jobs.enqueue(job, pipeline=pipe)

        return writes

    @staticmethod
    def _occurrences(
        spec: ScheduleSpec, now: datetime
    ) -> tuple[datetime | None, list[datetime], Coalesced, datetime | None]:
        """Split the occurrences due since ``spec.due`` into the one to run, the stale ones, the ones
        inside the grace folded into the one to run, and the next."""
        schedule = stored_schedule(spec.expression, spec.cron, spec.run_at, spec.timezone)
        grace = timedelta(seconds=spec.misfire_grace_seconds)
        due = [spec.due]
        following = next_fire_after(schedule, spec.due) if schedule.is_recurring else None
        while following is not None and following <= now and len(due) < MAX_CATCH_UP:
            due.append(following)
            following = next_fire_after(schedule, following)
        if following is not None and following <= now:  # very long downtime: jump ahead
            following = next_fire_after(schedule, now)
        in_grace = [when for when in due if now - when <= grace]
        stale = [when for when in due if now - when > grace]
        run_for = in_grace[-1] if in_grace else None
        folded = Coalesced(len(in_grace) - 1, in_grace[0], in_grace[-2]) if len(in_grace) > 1 else Coalesced()
        return run_for, stale, folded, following

    # --- the loop -----------------------------------------------------------------------------
    def seconds_until_next(self, now: float) -> float | None:
        first = self.connection.zrange(SCHEDULED_JOBS_KEY, 0, 0, withscores=True)
        return (first[0][1] - now) if first else None

    def run(self, burst: bool = False) -> None:  # type: ignore[override]
        """Hand over due jobs until :meth:`stop` (or once, with ``burst``), riding out Redis outages."""
        retry_s = 0.0
        try:
            while not self.stopped.is_set():
                try:
                    finished = self._pass(burst)
                except REDIS_DOWN as exc:
                    if not retry_s:
                        log.warning("scheduler %s: Redis is unreachable (%s); retrying until it is back",
                                    self.name, exc)
                    retry_s = min(retry_s * 2, RETRY_MAX_S) if retry_s else RETRY_FIRST_S
                    self.stopped.wait(retry_s)
                    continue
                if retry_s:
                    log.warning("scheduler %s: Redis is back", self.name)
                    retry_s = 0.0
                    self._hold_maintenance()
                if finished:
                    break
        finally:
            try:
                self._release_lease()
                self.register_death()
            except REDIS_DOWN:
                log.warning("scheduler %s stopped without releasing its lease: Redis is unreachable", self.name)

    def _pass(self, burst: bool) -> bool:
        """One turn of the loop: beat, lead or stand by, repair, hand over, maintain, wait. True when done."""
        lease_s = self.lock_ttl_ms / 1000
        if not self._born:
            self.register_birth()
            self._born = True
        self.connection.set(SCHEDULER_HEARTBEAT_KEY, self.name, px=self.lock_ttl_ms * 2)
        self.heartbeat()
        if not self._hold_lease():
            # Standby: never consume wake-ups, only wait for the lease to free up.
            self.stopped.wait(lease_s / 3)
            return False
        self._repair_if_lost()
        while self.hand_over_due() >= BATCH:
            pass
        now = time.time()
        # A FLUSHALL just now would have taken the workers' heartbeats too: maintain only while the
        # marker of the last reconciliation is there.
        if self.maintenance is not None and now >= self._next_maintenance and self._data_intact():
            try:
                self.maintenance()
            except REDIS_DOWN:
                raise
            except Exception:
                log.exception("scheduler maintenance failed")
            self._next_maintenance = now + self.maintenance_interval_s
        if burst:
            return True
        delay = self.seconds_until_next(time.time())
        wait = lease_s / 3 if delay is None else min(delay, lease_s / 3)
        if self.maintenance is not None:
            wait = min(wait, max(self._next_maintenance - time.time(), 0.0))
        if wait <= 0:
            return False
        if wait > PRECISE_SLEEP_S:
            self.connection.blpop([WAKE_KEY], timeout=wait - PRECISE_SLEEP_S / 2)
            return False
        # The last stretch before a due time, slept here: the lease and the beats were written a
        # moment ago, and writing them again would make every job that much later.
        time.sleep(wait)
        while self.hand_over_due() >= BATCH:
            pass
        return False

    def _hold_maintenance(self) -> None:
        """Give workers one heartbeat period to beat again before anyone is judged dead."""
        self._next_maintenance = max(self._next_maintenance, time.time() + self.liveness_grace_s)

    def _data_intact(self) -> bool:
        return self.reconcile is None or jobs_reconciled(self.connection)

    def _repair_if_lost(self) -> None:
        """Reconcile when first leading, and again whenever the reconciliation marker has gone.

        The marker is written as ``reconciling`` before the jobs and turned ``ok`` only if it is still
        there afterwards (``SET XX``): Redis losing its data during a reconciliation is noticed too.
        """
        if self.reconcile is None or time.time() < self._next_reconcile:
            return
        if self._reconciled_once and jobs_reconciled(self.connection):
            return
        lost = self._reconciled_once
        self.connection.set(RECONCILED_KEY, "reconciling")
        try:
            report = self.reconcile()
        except REDIS_DOWN:
            raise
        except Exception:
            log.exception("scheduler %s: reconciling Redis with the database failed; retrying", self.name)
            self._next_reconcile = time.time() + self.maintenance_interval_s
            return
        self.connection.set(RECONCILED_KEY, "ok", xx=True)
        self._reconciled_once = True
        if lost:
            self._hold_maintenance()
            log.warning("scheduler %s: Redis had lost its jobs; rebuilt from the database: %s", self.name, report)
        else:
            log.info("scheduler %s reconciled Redis with the database: %s", self.name, report)

    def stop(self) -> None:
        self.stopped.set()
        try:  # wake the loop out of its blocking wait
            self.connection.lpush(WAKE_KEY, 1)
        except Exception:
            pass


__all__ = ["ChronoScheduler"]
