"""An RQ worker that holds several jobs at once and does RQ's bookkeeping for them in batches.

RQ's :class:`~rq.SimpleWorker` performs one job, start to end, before it dequeues the next, and
spends about twenty Redis round trips on each. :class:`ConcurrentWorker` keeps RQ's work loop,
its keys and its registries, and changes how the jobs pass through them:

- **In flight together.** Up to ``concurrency`` jobs are held at once. A job whose function has an
  asynchronous counterpart (``function.coroutine``, as ChronoFlow's run function has) runs on the
  worker's event loop, where the I/O of all of them overlaps; any other job runs in a thread.
- **Dequeued together.** After RQ's own (blocking) dequeue of one job, the worker moves as many
  more as it has free slots from the queue to RQ's intermediate list in one script and reads
  them in a pipeline, and starts them all in a transaction: each job's execution in the started registry,
  its ``started`` status under this worker's name, its removal from the intermediate list.
- **Recorded together.** A recorder thread takes every job that has ended since it last looked
  and records the successes of asynchronous jobs in one Redis transaction, leaving what RQ's
  ``handle_job_success`` leaves (status, result, counters, expiry, execution clean-up). Those jobs
  have no dependents, callbacks or repeats, so RQ's per-job checks for them are skipped. Failures and
  other jobs go through RQ's own per-job path.

A slot is taken before dequeuing, so the worker never pops a job it cannot start at once. A warm
stop (SIGTERM) takes nothing new and waits for the jobs it holds before the worker deregisters; a
second signal is RQ's cold stop. A SIGKILLed worker leaves every job it held in the started
registry under its name, where the recovery of abandoned jobs finds them.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from types import TracebackType
from typing import Any

from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus, Retry
from rq.queue import Queue
from rq.rate_limit import release_slot
from rq.results import Result
from rq.utils import now, utcformat
from rq.worker.base import WorkerStatus

SLOT_WAIT_S = 1.0
"""While every slot is taken, the worker checks this often for a stop request and renews its RQ heartbeat."""

HEARTBEAT_EVERY_S = 1.0
"""How often a busy worker renews RQ's worker key (RQ keeps it for ``worker_ttl + 60`` seconds)."""

COMMAND_WAIT_S = 0.5
"""How long the thread listening on RQ's worker command channel waits at a time.

RQ gives it 60 s; redis-py 8.2 waits for the thread when it is stopped, and a listener that had
already seen its subscription end held the worker's exit for the rest of that minute."""

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

_MOVE_MANY = """
local moved = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not id then break end
  moved[i] = id
end
return moved
"""
"""Move up to ARGV[1] job ids from the queue (KEYS[1]) to RQ's intermediate list (KEYS[2]), as RQ's
own dequeue moves one."""


@dataclass(eq=False)  # held by identity: two deliveries of one job may be in flight together
class _Held:
    """A job this worker started, and how it ended once it has."""

    job: Job
    queue: Queue
    execution: Execution
    asynchronous: bool = False
    return_value: Any = None
    exc_info: ExcInfo | None = None


class ConcurrentWorker(SimpleWorker):
    """``SimpleWorker`` with up to ``concurrency`` jobs in flight, dequeued, started and recorded in batches."""

    def __init__(self, *args: Any, concurrency: int = 1, loop: asyncio.AbstractEventLoop | None = None,
                 **kwargs: Any) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        super().__init__(*args, **kwargs)
        self.concurrency = concurrency
        self.loop = loop
        self._slots = threading.BoundedSemaphore(concurrency)
        self._held: set[_Held] = set()
        self._idle = threading.Condition()
        self._dequeued: list[tuple[Job, Queue]] = []
        self._ended: SimpleQueue[_Held | None] = SimpleQueue()
        self._recorder: threading.Thread | None = None
        self._move_many = self.connection.register_script(_MOVE_MANY)

    @property
    def in_flight(self) -> int:
        """How many jobs this worker holds right now."""
        with self._idle:
            return len(self._held)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's worker heartbeat, its three writes in one round trip, and at most once a
        :data:`HEARTBEAT_EVERY_S` when RQ's loop renews it around every dequeue (its TTL is minutes)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        if timeout is None and self.last_heartbeat is not None and \
                (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY_S:
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()

    # -- dequeue ---------------------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(self, timeout: int | None,
                                     max_idle_time: int | None = None) -> tuple[Job, Queue] | None:
        """Wait for a free slot, dequeue as RQ does, then take more jobs for the other free slots."""
        while not self._slots.acquire(timeout=SLOT_WAIT_S):
            if self._stop_requested:
                return None
            self.heartbeat()
        if self._stop_requested:  # the slot came free from a job ending after the stop request
            self._slots.release()
            return None
        try:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        except BaseException:
            self._slots.release()
            raise
        if result is None:
            self._slots.release()
            return None
        self._dequeued = [result, *self._dequeue_more(result[1])]
        return result

    def _dequeue_more(self, queue: Queue) -> list[tuple[Job, Queue]]:
        """Up to one job per free slot from ``queue``, without waiting: two round trips in all, the
        first a script that stops at an empty queue (a pipeline of one ``LMOVE`` per free slot sent
        fifteen of them for every run of a chrono firing alone)."""
        if len(self.queues) != 1:  # RQ moves jobs through its intermediate list only for one queue
            return []
        free = 0
        while self._slots.acquire(blocking=False):
            free += 1
        if not free:
            return []
        try:
            moved = self._move_many(keys=[queue.key, queue.intermediate_queue_key], args=[free])
            ids = [raw.decode() for raw in moved]
            jobs = Job.fetch_many(ids, connection=self.connection, serializer=self.serializer) if ids else []
        except BaseException:
            for _ in range(free):
                self._slots.release()
            raise
        taken = []
        for job_id, job in zip(ids, jobs, strict=True):
            if job is None:  # deleted while queued: RQ's own dequeue drops it the same way
                self.connection.lrem(queue.intermediate_queue_key, 1, job_id)
                continue
            job.redis_server_version = self.get_redis_server_version()
            taken.append((job, queue))
        for _ in range(free - len(taken)):
            self._slots.release()
        return taken

    # -- start -----------------------------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Start ``job`` and the jobs dequeued with it: RQ's preparation for all of them in one pipeline."""
        batch = self._dequeued if self._dequeued and self._dequeued[0][0] is job else [(job, queue)]
        self._dequeued = []
        try:
            held = self._start(batch)
        except BaseException:
            for _ in batch:
                self._slots.release()
            raise
        if self._recorder is None:
            self._recorder = threading.Thread(target=self._record_ends, name="rq-recorder", daemon=True)
            self._recorder.start()
        for item in held:
            self._launch(item)

    def _start(self, batch: list[tuple[Job, Queue]]) -> list[_Held]:
        """What RQ's ``prepare_execution`` and ``prepare_job_execution`` write, for every job of ``batch``."""
        held = []
        one_queue = len(self.queues) == 1
        with self.connection.pipeline() as pipe:
            ttl = 0
            for job, queue in batch:
                job_ttl = self.get_heartbeat_ttl(job)
                ttl = max(ttl, job_ttl)
                execution = Execution.create(job, job_ttl, pipeline=pipe, worker_name=self.name)
                self.executions[execution.id] = execution
                job.prepare_for_execution(self.name, pipeline=pipe)  # also RQ's job.heartbeat: last_heartbeat
                pipe.persist(job.key)
                if one_queue:
                    pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                held.append(_Held(job, queue, execution))
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.heartbeat(ttl, pipeline=pipe)
            pipe.execute()
        with self._idle:
            self._held.update(held)
        return held

    def _launch(self, held: _Held) -> None:
        coroutine_function = getattr(held.job.func, "coroutine", None) if self.loop is not None else None
        if coroutine_function is None:
            threading.Thread(target=self._perform, args=(held,), name=f"rq-job-{held.job.id}", daemon=True).start()
            return
        held.asynchronous = True
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine_function(*held.job.args, **held.job.kwargs),
                                                      self.loop)  # type: ignore[arg-type]
        except BaseException:
            held.exc_info = sys.exc_info()  # type: ignore[assignment]
            self._ended.put(held)
            return
        future.add_done_callback(lambda done: self._coroutine_ended(held, done))

    def _coroutine_ended(self, held: _Held, future: Future[Any]) -> None:
        exc = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if exc is None:
            held.return_value = future.result()
        else:
            held.exc_info = (type(exc), exc, exc.__traceback__)
        self._ended.put(held)

    def _perform(self, held: _Held) -> None:
        try:
            held.return_value = held.job.perform()
        except BaseException:
            held.exc_info = sys.exc_info()  # type: ignore[assignment]
        self._ended.put(held)

    # -- record ----------------------------------------------------------------------------------

    def _record_ends(self) -> None:
        """The recorder thread: record every job that ended since the last look, successes in one transaction."""
        while True:
            first = self._ended.get()
            if first is None:
                return
            ended = [first]
            try:
                while True:
                    item = self._ended.get_nowait()
                    if item is None:
                        self._ended.put(None)  # stop after this batch
                        break
                    ended.append(item)
            except Empty:
                pass
            batched = [h for h in ended if h.asynchronous and h.exc_info is None
                       and not isinstance(h.return_value, Retry)]
            try:
                if batched:
                    self._record_successes(batched)
            except Exception:  # Redis failing under the recording: the scheduler's recovery finds the jobs
                self.log.exception("Worker %s: could not record the end of %d jobs", self.name, len(batched))
            for held in ended:
                try:
                    if held.exc_info is not None:
                        self._finalize_failure(held.job, held.queue, held.execution, held.exc_info)
                    elif not any(held is b for b in batched):
                        self._finalize_success(held.job, held.queue, held.execution, held.return_value)
                except Exception:
                    self.log.exception("Worker %s: could not record the end of job %s", self.name, held.job.id)
                finally:
                    self._release(held)

    def _record_successes(self, batch: list[_Held]) -> None:
        """What RQ's ``handle_execution_ended`` and ``handle_job_success`` leave in Redis for ``batch``,
        in one transaction.

        RQ saves the whole job again on success (its arguments compressed anew, a dozen dates
        formatted); only its status, end and last heartbeat changed since it started, so only those
        are written. The worker's counters move once for the batch. The jobs have no dependents.
        """
        ended_at = now()
        stamp = utcformat(ended_at)
        working = 0.0
        with self.connection.pipeline() as pipe:
            for held in batch:
                job = held.job
                job.ended_at = job.last_heartbeat = ended_at
                job._result = held.return_value
                job._status = JobStatus.FINISHED
                working += (ended_at - job.started_at).total_seconds()  # type: ignore[operator]
                result_ttl = job.get_result_ttl(self.default_result_ttl)
                if result_ttl == 0:
                    job.cleanup(0, pipeline=pipe, remove_from_queue=False)
                else:
                    pipe.hset(job.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": stamp,
                                                "last_heartbeat": stamp})
                    Result.create(job, Result.Type.SUCCESSFUL, return_value=job._result, ttl=result_ttl,
                                  worker_name=self.name, pipeline=pipe, execution_id=held.execution.id,
                                  execution_started_at=held.execution.created_at, execution_ended_at=ended_at)
                    job.finished_job_registry.add(job, result_ttl, pipe)
                    if result_ttl > 0:
                        pipe.expire(job.key, result_ttl)
                self.cleanup_execution(job, pipeline=pipe, execution=held.execution)
            pipe.hincrby(self.key, "successful_job_count", len(batch))
            pipe.hincrbyfloat(self.key, "total_working_time", working)
            pipe.execute()
        for held in batch:
            release_slot(held.job)
            self.log.info("Worker %s: %s: Job OK (%s)", self.name, held.job.origin, held.job.id)

    def _release(self, held: _Held) -> None:
        with self._idle:
            self._held.discard(held)
            self._idle.notify_all()
        self._slots.release()

    # -- stop ------------------------------------------------------------------------------------

    def wait_for_jobs(self) -> None:
        """Block until every job this worker holds has ended and been recorded."""
        with self._idle:
            while self._held:
                self._idle.wait(SLOT_WAIT_S)

    def subscribe(self) -> None:
        """Subscribe as RQ does, with a listener that waits ``COMMAND_WAIT_S`` at a time."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=COMMAND_WAIT_S, daemon=True, exception_handler=self._pubsub_exception_handler)

    def teardown(self) -> None:
        """Finish the jobs in flight, then deregister as RQ does."""
        self.wait_for_jobs()
        if self._recorder is not None:
            self._ended.put(None)
            self._recorder.join(SLOT_WAIT_S)
        super().teardown()


__all__ = ["ConcurrentWorker"]
