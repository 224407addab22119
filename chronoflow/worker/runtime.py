"""The worker process: executes occurrences handed over by the scheduler.

RQ's :class:`~rq.SimpleWorker` runs jobs in the worker process itself: no fork per job, because
user code never runs here anyway (FUNCTION targets run in the sandbox's own processes). Each
worker process keeps one event loop, one database engine and one HTTP client for all its jobs,
starts every target once (the FUNCTION target builds its sandbox runner then, and logs its
isolation layers) and closes them when it stops, and keeps a heartbeat key in Redis so a dead
worker's runs can be failed (invariant 4). Up to ``WORKER_CONCURRENCY`` runs are in flight at once
(:class:`~chronoflow.worker.concurrent.ConcurrentWorker`), each a coroutine on that loop, where
their I/O overlaps.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import httpx
from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import StopRequested
from rq.timeouts import JobTimeoutException

from chronoflow.config import Settings, get_settings
from chronoflow.scheduling.heartbeats import HEARTBEAT_PREFIX
from chronoflow.scheduling.jobs import JobStore
from chronoflow.store.batching import WriteBatcher
from chronoflow.store.engine import Database
from chronoflow.targets import ExecutionContext, all_targets
from chronoflow.worker.concurrent import ConcurrentWorker

log = logging.getLogger(__name__)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (every run's sockets, futures and wake-ups cost
    less on it), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()

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

    ``threads`` sizes the loop's default executor (``asyncio.to_thread``: Redis calls, sandbox
    runs): Python's default of ``cores + 4`` would queue the runs of a worker holding more jobs.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.loop = new_event_loop()
        if threads is not None:
            self.loop.set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="chronoflow-io"))
        self.thread = threading.Thread(target=self.loop.run_forever, name="chronoflow-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop and wait for its result (or exception).

        Raises:
            JobTimeoutException: ``coro`` took longer than ``timeout`` seconds; it is cancelled.
        """
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise JobTimeoutException(f"job exceeded its {timeout} s timeout") from None
        except BaseException:
            future.cancel()  # e.g. a cold stop interrupted the wait
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


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
    function_slots: asyncio.Semaphore
    """Bounds the FUNCTION runs (sandbox children) in flight to ``WORKER_FUNCTION_CONCURRENCY``."""
    run_writes: WriteBatcher
    """The claims and records of the runs in flight, committed together."""
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(cls, settings: Settings, redis_url: str, database_url: str) -> WorkerRuntime:
        redis = Redis.from_url(redis_url, socket_timeout=SOCKET_TIMEOUT_S)
        # one thread per run in flight, plus a few for the Redis calls of runs around their targets
        loop = BackgroundLoop(threads=settings.worker_concurrency + 4)
        db = Database(database_url)
        http = httpx.AsyncClient(follow_redirects=False)
        worker_id = f"{socket.gethostname()}-{os.getpid()}"
        jobs = JobStore(redis, settings.queue_name)
        context = ExecutionContext(settings=settings, db=db, http=http, worker_id=worker_id, jobs=jobs)
        runtime = cls(settings, redis, jobs, db, context, loop, worker_id,
                      asyncio.Semaphore(settings.worker_function_concurrency), WriteBatcher(db))
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
            interval = max(ttl / 3, 0.2)
            failing = False
            # While Redis is away, beat again every half second: the key is back (Redis may have
            # restarted empty) soon after Redis is, well within the scheduler's grace.
            while not self.stopping.wait(min(interval, 0.5) if failing else interval):
                try:
                    self.redis.set(key, 1, ex=ttl)
                except Exception as exc:
                    if not failing:
                        log.warning("worker heartbeat failed: %s", exc)
                    failing = True
                else:
                    failing = False

        threading.Thread(target=beat, name="chronoflow-heartbeat", daemon=True).start()

    def close(self) -> None:
        self.stopping.set()
        self.loop.run(self._close_targets())
        self.loop.run(self.context.http.aclose())
        self.loop.run(self.db.dispose())
        self.loop.close()
        try:
            self.redis.delete(HEARTBEAT_PREFIX + self.worker_id)
        except RedisError:  # Redis away: the key expires by itself
            log.warning("worker %s: could not remove its heartbeat key", self.worker_id)


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


class ChronoWorker(ConcurrentWorker):
    """The concurrent RQ worker, remembering a stop signal so a work loop ended by a Redis outage is told apart."""

    stop_signalled = False

    def request_stop(self, signum: int, frame: Any) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)


def _wait_for_redis(rt: WorkerRuntime) -> bool:
    """Wait (backing off to 5 s) until Redis answers; False if a stop signal came first."""
    log.warning("worker %s: Redis is unreachable; waiting for it", rt.worker_id)
    delay = 0.2
    try:
        while True:
            try:
                rt.redis.ping()
            except RedisError:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.warning("worker %s: Redis is back; working again", rt.worker_id)
            return True
    except StopRequested:
        return False


def run_worker(settings: Settings, redis_url: str, database_url: str, *, burst: bool = False,
               name: str | None = None) -> None:
    """Work the ChronoFlow queue until stopped (or until it is empty, with ``burst``).

    RQ ends its work loop when Redis fails under a job it is finishing; the worker then waits for
    Redis and starts a new loop instead of exiting (the job it held is found by the scheduler's
    recovery of abandoned jobs).
    """
    rt = WorkerRuntime.create(settings, redis_url, database_url)
    install_runtime(rt)
    try:
        while True:
            worker = ChronoWorker([rt.jobs.queue], connection=rt.redis, name=name or rt.worker_id,
                                  concurrency=settings.worker_concurrency, loop=rt.loop.loop)
            try:
                worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
            except RedisError:  # the loop's own teardown could not reach Redis either
                log.debug("worker loop ended with Redis away", exc_info=True)
            if burst or worker.stop_signalled or not _wait_for_redis(rt):
                return
    finally:
        rt.close()


__all__ = ["BackgroundLoop", "ChronoWorker", "WorkerRuntime", "install_runtime", "run_worker", "runtime"]
