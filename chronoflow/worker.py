"""The worker process: executes occurrences handed over by the scheduler.

RQ's :class:`~rq.SimpleWorker` runs jobs in the worker process itself: no fork per job, because
user code never runs here anyway (FUNCTION targets run in the sandbox's own processes). Each
worker process keeps one event loop, one database engine and one HTTP client for all its jobs,
starts every target once (the FUNCTION target builds its sandbox runner then, and logs its
isolation layers) and closes them when it stops, and keeps a heartbeat key in Redis so a dead
worker's runs can be failed (invariant 4).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from redis import Redis
from rq import SimpleWorker

from chronoflow.config import Settings, get_settings
from chronoflow.db import Database, utcnow
from chronoflow.heartbeats import HEARTBEAT_PREFIX
from chronoflow.jobs import JobStore, from_iso
from chronoflow.models import Chrono, RunStatus, RunTrigger
from chronoflow.runs import Claim, claim_occurrence, finish_run, record_missed
from chronoflow.targets import ExecutionContext, TargetResult, all_targets, get_target

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 430
"""Read timeout of the worker's Redis connections: longer than RQ's blocking dequeue (405 s).

redis-py 8 defaults to 5 s, which RQ's own adjustment does not survive, so an idle worker's
blocking dequeue would time out every 5 s and RQ would back off for up to a minute."""


class BackgroundLoop:
    """One event loop, kept running in its own thread for the life of the worker process.

    RQ calls job functions synchronously; they hand their coroutine to this loop and wait. A loop
    that keeps running between jobs is markedly cheaper per job than starting and stopping one
    for each (the database driver's thread and the HTTP connections stay warm), and it lets
    blocking code in other threads (the sandbox's message callback) submit work to it too.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="chronoflow-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        """Run ``coro`` on the loop and wait for its result (or exception)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. RQ's job timeout interrupted the wait
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def backoff_delay(settings: Settings, attempt: int) -> timedelta:
    """Delay before attempt ``attempt + 1``: ``JOB_BACKOFF_MS`` doubled for each earlier retry."""
    return timedelta(milliseconds=settings.job_backoff_ms * 2 ** (attempt - 1))


@dataclass
class WorkerRuntime:
    """What one worker process keeps between jobs."""

    settings: Settings
    redis: Redis
    jobs: JobStore
    db: Database
    context: ExecutionContext
    loop: BackgroundLoop
    worker_id: str
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(cls, settings: Settings, redis_url: str, database_url: str) -> WorkerRuntime:
        redis = Redis.from_url(redis_url, socket_timeout=SOCKET_TIMEOUT_S)
        loop = BackgroundLoop()
        db = Database(database_url)
        http = httpx.AsyncClient(follow_redirects=False)
        worker_id = f"{socket.gethostname()}-{os.getpid()}"
        context = ExecutionContext(settings=settings, db=db, http=http, worker_id=worker_id)
        runtime = cls(settings, redis, JobStore(redis, settings.queue_name), db, context, loop, worker_id)
        runtime._start_heartbeat()
        loop.run(runtime._start_targets())
        return runtime

    async def _start_targets(self) -> None:
        """Start every target before the first job (the FUNCTION target's sandbox policy is built here)."""
        for target in all_targets():
            await target.start(self.context)

    async def _close_targets(self) -> None:
        for target in all_targets():
            try:
                await target.close()
            except Exception:  # one target failing to close must not keep the others open
                log.exception("closing target %s failed", type(target).__name__)

    def _start_heartbeat(self) -> None:
        ttl = self.settings.worker_heartbeat_ttl_s
        key = HEARTBEAT_PREFIX + self.worker_id
        self.redis.set(key, 1, ex=ttl)

        def beat() -> None:
            while not self.stopping.wait(max(ttl / 3, 0.2)):
                try:
                    self.redis.set(key, 1, ex=ttl)
                except Exception as exc:  # Redis briefly away: the next beat retries
                    log.warning("worker heartbeat failed: %s", exc)

        threading.Thread(target=beat, name="chronoflow-heartbeat", daemon=True).start()

    def close(self) -> None:
        self.stopping.set()
        self.loop.run(self._close_targets())
        self.loop.run(self.context.http.aclose())
        self.loop.run(self.db.dispose())
        self.loop.close()
        self.redis.delete(HEARTBEAT_PREFIX + self.worker_id)


_runtime: WorkerRuntime | None = None


def runtime() -> WorkerRuntime:
    """This process's runtime, created on first use from the environment."""
    global _runtime
    if _runtime is None:
        settings = get_settings()
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is not set: start workers with `chronoflow worker` or `chronoflow dev`")
        _runtime = WorkerRuntime.create(settings, settings.redis_url, settings.effective_database_url)
    return _runtime


def install_runtime(value: WorkerRuntime) -> None:
    global _runtime
    _runtime = value


def execute_occurrence(
    chrono_id: str,
    scheduled_for: str | None,
    trigger: str = RunTrigger.SCHEDULE,
    attempt: int = 1,
    next_run_at: str | None = None,
    missed: list[str] | None = None,
    missed_total: int = 0,
    coalesced: int = 0,
    run_id: str | None = None,
) -> str | None:
    """RQ job function: run one attempt of one occurrence. Returns the run id, or None if not ours."""
    rt = runtime()
    return rt.loop.run(_execute(
        rt, chrono_id, from_iso(scheduled_for), RunTrigger(trigger), attempt, from_iso(next_run_at),
        [from_iso(m) for m in missed or []], missed_total, coalesced, run_id,  # type: ignore[misc]
    ))


async def _execute(
    rt: WorkerRuntime, chrono_id: str, scheduled_for: datetime | None, trigger: RunTrigger, attempt: int,
    next_run_at: datetime | None, missed: list[datetime], missed_total: int, coalesced: int, run_id: str | None,
) -> str | None:
    if missed:
        await record_missed(rt.db, chrono_id, missed, missed_total)
    if scheduled_for is None:
        if trigger == RunTrigger.SCHEDULE:  # only stale occurrences: still move nextRunAt on
            await _advance_without_run(rt, chrono_id, next_run_at)
        return None
    claim = await claim_occurrence(rt.db, chrono_id, scheduled_for, trigger, attempt, rt.worker_id,
                                   next_run_at=next_run_at, run_id=run_id)
    if claim is None:
        return None
    result = await _run_target(rt, claim)
    fields = result.run_fields()
    if coalesced and result.error_message is None:
        fields["error_message"] = f"{coalesced} missed occurrence(s) coalesced into this run"
    retry_at = None
    if result.retryable and attempt < rt.settings.job_attempts:
        retry_at = utcnow() + backoff_delay(rt.settings, attempt)
        fields["error_message"] = f"{result.error_message}; attempt {attempt + 1} at {retry_at.isoformat()}"
    await finish_run(rt.db, claim, fields)
    if retry_at is not None:
        await asyncio.to_thread(rt.jobs.schedule_retry, chrono_id, scheduled_for, attempt + 1, retry_at)
    return claim.run.id


async def _run_target(rt: WorkerRuntime, claim: Claim) -> TargetResult:
    try:
        return await get_target(claim.chrono.target_type).execute(claim.chrono, claim.run, rt.context)
    except Exception as exc:  # a bug in a target must still end the run, not leave it running
        log.exception("target %s crashed on run %s", claim.chrono.target_type, claim.run.id)
        return TargetResult(RunStatus.FAILED, error_message=f"internal error: {exc!r}")


async def _advance_without_run(rt: WorkerRuntime, chrono_id: str, next_run_at: datetime | None) -> None:
    async with rt.db.session() as session:
        chrono = await session.get(Chrono, chrono_id)
        if chrono is not None and chrono.is_active:
            chrono.next_run_at = next_run_at
            if not chrono.is_recurring:
                chrono.is_active = False


def run_worker(settings: Settings, redis_url: str, database_url: str, *, burst: bool = False,
               name: str | None = None) -> None:
    """Work the ChronoFlow queue until stopped (or until it is empty, with ``burst``)."""
    rt = WorkerRuntime.create(settings, redis_url, database_url)
    install_runtime(rt)
    worker = SimpleWorker([rt.jobs.queue], connection=rt.redis, name=name or rt.worker_id)
    try:
        worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
    finally:
        rt.close()


__all__ = ["WorkerRuntime", "execute_occurrence", "run_worker"]
