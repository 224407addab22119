"""An RQ worker that holds several jobs at once.

RQ's :class:`~rq.SimpleWorker` performs one job, start to end, before it dequeues the next. A run
spends nearly all its time waiting on a receiver, so one slow receiver held back every other
chrono on the worker. :class:`ConcurrentWorker` keeps RQ's own work loop, dequeue and bookkeeping
and changes one thing: up to ``concurrency`` jobs are in flight. For each job the main thread does
what RQ's worker does before a job runs (an execution in the started registry, the job marked
``started`` under this worker's name, out of the queue's intermediate list), then hands the job to
a thread that performs it and records its end exactly as RQ does (result, registries, counters).
The job functions themselves wait on the worker's one event loop, where the I/O of all of them
overlaps; the threads only carry RQ's synchronous bookkeeping.

A slot is taken before dequeuing, so the worker never pops a job it cannot start at once. A
warm stop (SIGTERM) takes nothing new and waits for the jobs it holds before the worker
deregisters; a second signal is RQ's cold stop. A SIGKILLed worker leaves every job it held in
the started registry under its name, where the recovery of abandoned jobs finds them.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.utils import now

SLOT_WAIT_S = 1.0
"""While every slot is taken, the worker checks this often for a stop request and renews its RQ heartbeat."""


class ConcurrentWorker(SimpleWorker):
    """``SimpleWorker`` with up to ``concurrency`` jobs in flight, each performed in its own thread."""

    def __init__(self, *args: Any, concurrency: int = 1, **kwargs: Any) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        super().__init__(*args, **kwargs)
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._in_flight: set[threading.Thread] = set()
        self._idle = threading.Condition()

    @property
    def in_flight(self) -> int:
        """How many jobs this worker holds right now."""
        with self._idle:
            return len(self._in_flight)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None,
                                     max_idle_time: int | None = None) -> tuple[Job, Queue] | None:
        """Wait for a free slot, then dequeue as RQ does; ``None`` (end of the loop) on a stop request."""
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
        return result

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Start ``job``: RQ's preparation here, its performance and recording in a thread of its own."""
        try:
            execution = self.prepare_execution(job)
            self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1)
            job.started_at = now()
            thread = threading.Thread(target=self._perform, args=(job, queue, execution),
                                      name=f"rq-job-{job.id}", daemon=True)
            with self._idle:
                self._in_flight.add(thread)
            thread.start()
        except BaseException:
            self._slots.release()
            raise

    def _perform(self, job: Job, queue: Queue, execution: Execution) -> None:
        """Perform one job and record its end as RQ's ``perform_job`` does (without its signal-based timeout)."""
        try:
            try:
                return_value = job.perform()
            except BaseException:
                self._finalize_failure(job, queue, execution, sys.exc_info())
            else:
                self._finalize_success(job, queue, execution, return_value)
        except Exception:  # Redis failing under the recording: the scheduler's recovery finds the job
            self.log.exception("Worker %s: could not record the end of job %s", self.name, job.id)
        finally:
            with self._idle:
                self._in_flight.discard(threading.current_thread())
                self._idle.notify_all()
            self._slots.release()

    def wait_for_jobs(self) -> None:
        """Block until every job this worker holds has ended."""
        with self._idle:
            while self._in_flight:
                self._idle.wait(SLOT_WAIT_S)

    def teardown(self) -> None:
        """Finish the jobs in flight, then deregister as RQ does."""
        self.wait_for_jobs()
        super().teardown()


__all__ = ["ConcurrentWorker"]
