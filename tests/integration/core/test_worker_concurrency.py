"""One worker process holding several runs at once (WORKER_CONCURRENCY), with invariants 2 and 4 intact.

The receiver holds requests until the test releases them, so "in flight together" is shown by
requests that arrived while others were still unanswered, never by timing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.worker import Worker

from chronoflow.scheduling.jobs import occurrence_job_id
from chronoflow.worker.concurrent import ConcurrentWorker
from tests.integration.conftest import Stack


ONCE_A_YEAR = "0 0 1 1 *"
"""The tests' default schedule: chronos created seconds apart share their first due time, and a
hand-over never meets a second occurrence of one (every ten minutes, a test that crossed a
ten-minute boundary handed over the next occurrences of its first chronos along with a new one)."""


def _chrono_due(stack: Stack, url: str, cron: str = ONCE_A_YEAR) -> tuple[str, float]:
    """A new HTTP chrono and its first due time."""
    chrono = stack.create_http_chrono(url, cron=cron)
    return chrono["id"], stack.jobs.scheduled_due(chrono["id"])


def _hand_over(stack: Stack, *chronos: tuple[str, float]) -> list[str]:
    """Hand the chronos' first occurrences to the queue; their job ids."""
    assert stack.hand_over(max(due for _, due in chronos)) == len(chronos)
    return [occurrence_job_id(cid, datetime.fromtimestamp(due, UTC), 1) for cid, due in chronos]


def _started(stack: Stack) -> set[str]:
    registry = StartedJobRegistry(stack.settings.queue_name, connection=stack.redis)
    return {registry.parse_job_id(entry.decode()) for entry in stack.redis.zrange(registry.key, 0, -1)}


def _worker(stack: Stack, concurrency: int) -> subprocess.Popen[bytes]:
    stack.env["WORKER_CONCURRENCY"] = str(concurrency)
    return stack.spawn("worker")


def _statuses(stack: Stack, chrono_id: str) -> list[str]:
    return [r.status for r in stack.runs(chrono_id)]


def test_two_occurrences_overlap_in_one_worker_process(stack: Stack, http_receiver: Any) -> None:
    """It has one worker process call two receivers at once, each job shown as started by RQ."""
    gate = http_receiver.hold("/held")
    chronos = [_chrono_due(stack, http_receiver.url + "/held") for _ in range(2)]
    job_ids = _hand_over(stack, *chronos)
    _worker(stack, 2)
    http_receiver.wait_for(2, timeout=30)  # the second arrived while the first was unanswered
    assert http_receiver.peak_in_flight == 2
    assert _started(stack) == set(job_ids)
    jobs = Job.fetch_many(job_ids, connection=stack.redis)
    assert {job.get_status() for job in jobs} == {JobStatus.STARTED}
    assert len({job.worker_name for job in jobs}) == 1
    workers = Worker.all(connection=stack.redis)
    assert [w.name for w in workers] == [jobs[0].worker_name]
    gate.set()
    stack.wait_until(lambda: all(_statuses(stack, cid) == ["success"] for cid, _ in chronos), timeout=30)
    assert len({stack.runs(cid)[0].worker for cid, _ in chronos}) == 1
    stack.wait_until(lambda: not _started(stack), timeout=10)
    assert {job.get_status() for job in Job.fetch_many(job_ids, connection=stack.redis)} == {JobStatus.FINISHED}


def test_a_worker_killed_with_several_runs_in_flight_fails_each(sqlite_stack: Stack, http_receiver: Any) -> None:
    """It fails every run a SIGKILLed worker held as 'worker lost' and keeps each chrono's next occurrence."""
    stack = sqlite_stack
    http_receiver.hold("/held")
    chronos = [_chrono_due(stack, http_receiver.url + "/held", cron="*/10 * * * *") for _ in range(3)]
    job_ids = _hand_over(stack, *chronos)
    worker = _worker(stack, 4)
    http_receiver.wait_for(3, timeout=30)
    assert _started(stack) == set(job_ids)  # what the recovery of abandoned jobs reads
    assert all(_statuses(stack, cid) == ["running"] for cid, _ in chronos)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    stack.spawn("scheduler")
    stack.wait_until(lambda: all(_statuses(stack, cid) == ["failed"] for cid, _ in chronos), timeout=30)
    for chrono_id, due in chronos:
        run = stack.runs(chrono_id)[0]
        assert "worker lost" in run.error_message and run.finished_at is not None
        assert stack.jobs.scheduled_due(chrono_id) == due + 600
        assert stack.jobs.count_schedule_jobs(chrono_id) == 1
    stack.wait_until(lambda: not _started(stack), timeout=10)  # claimed jobs are dropped, not requeued
    assert stack.queued() == []
    assert len(http_receiver.requests) == 3


def test_sigterm_finishes_the_runs_held_and_takes_nothing_new(sqlite_stack: Stack, http_receiver: Any) -> None:
    """It lets a worker asked to stop finish the runs it holds and leave queued work to others."""
    stack = sqlite_stack
    gate = http_receiver.hold("/held")
    held = [_chrono_due(stack, http_receiver.url + "/held") for _ in range(2)]
    _hand_over(stack, *held)
    worker = _worker(stack, 2)
    http_receiver.wait_for(2, timeout=30)  # both slots taken: the next job stays queued
    waiting = _chrono_due(stack, http_receiver.url + "/later")
    [waiting_job] = _hand_over(stack, waiting)
    assert stack.queued() == [waiting_job.encode()]
    os.kill(worker.pid, signal.SIGTERM)
    stack.wait_until(lambda: any(w.shutdown_requested_date for w in Worker.all(connection=stack.redis)), timeout=10)
    gate.set()
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, out.decode()
    assert all(_statuses(stack, cid) == ["success"] for cid, _ in held)
    assert stack.runs(waiting[0]) == [] and stack.queued() == [waiting_job.encode()]
    assert not _started(stack) and Worker.all(connection=stack.redis) == []
    stack.drain()  # the next worker takes what the stopped one left
    assert _statuses(stack, waiting[0]) == ["success"]


def test_duplicate_deliveries_in_flight_together_still_run_once(stack: Stack, http_receiver: Any) -> None:
    """It runs an occurrence once when its job is delivered several times to one concurrent worker."""
    gate = http_receiver.hold("/dup")
    chrono = _chrono_due(stack, http_receiver.url + "/dup")
    [job_id] = _hand_over(stack, chrono)
    job = Job.fetch(job_id, connection=stack.redis)
    for _ in range(3):
        stack.jobs.enqueue(job)  # the same job, delivered again
    assert stack.queued().count(job_id.encode()) == 4
    worker = _worker(stack, 8)
    http_receiver.wait_for(1, timeout=30)
    stack.wait_until(lambda: stack.queued() == [], timeout=30)  # the copies were taken while the first is held
    gate.set()
    try:
        stack.wait_until(lambda: _statuses(stack, chrono[0]) == ["success"], timeout=30)
    except AssertionError:
        os.killpg(worker.pid, signal.SIGKILL)
        out = worker.communicate()[0].decode()
        raise AssertionError(f"runs {[(r.status, r.error_message) for r in stack.runs(chrono[0])]}; worker said:\n{out}")
    stack.wait_until(lambda: not _started(stack), timeout=10)
    assert len(http_receiver.requests) == 1
    assert [(r.status, r.attempt) for r in stack.runs(chrono[0])] == [("success", 1)]


def test_a_slow_receiver_delays_a_fast_chrono_only_when_every_slot_is_taken(
        sqlite_stack: Stack, http_receiver: Any) -> None:
    """It runs a fast chrono beside slow calls, and waits for a free slot only once all are held."""
    stack = sqlite_stack
    gates = [http_receiver.hold(f"/slow{i}") for i in range(3)]
    # Each chrono is created just before its hand-over: those handed over earlier are due later by then.
    slow = [_chrono_due(stack, http_receiver.url + f"/slow{i}") for i in range(2)]
    _hand_over(stack, *slow)
    _worker(stack, 3)
    http_receiver.wait_for(2, timeout=30)
    fast = [_chrono_due(stack, http_receiver.url + "/fast0")]
    _hand_over(stack, fast[0])  # two slow calls held, one slot free: the fast chrono runs now
    http_receiver.wait_for(1, timeout=30, path="/fast0")
    stack.wait_until(lambda: _statuses(stack, fast[0][0]) == ["success"], timeout=30)
    slow.append(_chrono_due(stack, http_receiver.url + "/slow2"))
    _hand_over(stack, slow[2])
    http_receiver.wait_for(1, timeout=30, path="/slow2")
    fast.append(_chrono_due(stack, http_receiver.url + "/fast1"))
    [fast_job] = _hand_over(stack, fast[1])  # every slot held by a slow call: it waits in the queue
    time.sleep(1.0)  # a free slot would have taken it by now
    assert stack.queued() == [fast_job.encode()] and stack.runs(fast[1][0]) == []
    gates[0].set()  # one slow call ends: its slot goes to the fast chrono
    http_receiver.wait_for(1, timeout=30, path="/fast1")
    stack.wait_until(lambda: _statuses(stack, fast[1][0]) == ["success"], timeout=30)
    assert all(_statuses(stack, cid) == ["running"] for cid, _ in slow[1:])
    for gate in gates[1:]:
        gate.set()
    stack.wait_until(lambda: all(_statuses(stack, cid) == ["success"] for cid, _ in slow), timeout=30)


def test_a_burst_taken_in_batches_is_recorded_in_rq_as_rq_records_a_job(stack: Stack, http_receiver: Any) -> None:
    """It leaves RQ's keys as RQ's own worker would after jobs dequeued, started and recorded together.

    Twelve occurrences wait in the queue before a worker with four slots starts, so it takes them
    four at a time and records several ends in one transaction; what ``rqinfo`` and rq-dashboard read
    must still say: each job finished with its result, none started or failed, the queue and RQ's
    intermediate list empty, every run recorded once.
    """
    chronos = [_chrono_due(stack, http_receiver.url + f"/burst/{i}") for i in range(12)]
    job_ids = _hand_over(stack, *chronos)
    stack.env["WORKER_CONCURRENCY"] = "4"
    stack.drain()
    assert all(_statuses(stack, cid) == ["success"] for cid, _ in chronos)
    assert len(http_receiver.requests) == 12
    queue = stack.jobs.queue
    jobs = Job.fetch_many(job_ids, connection=stack.redis)
    assert {job.get_status() for job in jobs} == {JobStatus.FINISHED}
    results = {job.id: job.return_value() for job in jobs}
    runs = {occurrence_job_id(cid, datetime.fromtimestamp(due, UTC), 1): stack.runs(cid)[0].id for cid, due in chronos}
    assert results == runs
    assert set(queue.finished_job_registry.get_job_ids()) == set(job_ids)
    assert queue.started_job_registry.get_job_ids() == [] and queue.failed_job_registry.get_job_ids() == []
    assert stack.queued() == [] and stack.redis.llen(queue.intermediate_queue_key) == 0
    for job in jobs:  # as RQ's handle_job_success leaves a job: its end, its expiry, its execution gone
        assert job.ended_at is not None and job.started_at <= job.ended_at == job.last_heartbeat
        assert job.worker_name and 0 < stack.redis.ttl(job.key) <= 60
        assert stack.redis.zcard(f"rq:executions:{job.id}") == 0
    [worker_key] = [key for key in stack.redis.scan_iter(match="rq:worker:*")
                    if not key.endswith(b":executions")]
    counters = stack.redis.hmget(worker_key, "successful_job_count", "total_working_time")
    assert int(counters[0]) == 12 and float(counters[1]) > 0


def test_a_worker_leaves_its_command_channel_without_waiting_out_its_listener(redis_url: str) -> None:
    """It ends the thread listening on RQ's worker command channel at once when the worker stops.

    The moment set up here is the one a stopping worker can meet by chance: the listener has already
    seen its subscription end and waits for a new one. RQ lets it wait 60 s at a time, and redis-py
    8.2 waits for the thread when it is stopped, so every burst worker that met it took a minute to
    exit.
    """
    connection = Redis.from_url(redis_url)
    worker = ConcurrentWorker([Queue("commands", connection=connection)], connection=connection)
    worker.subscribe()
    listener = worker.pubsub_thread
    worker.pubsub.unsubscribe()
    deadline = time.monotonic() + 10
    while worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker.pubsub.subscribed
    time.sleep(0.2)  # the listener is back in its wait for a subscription

    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 10
    assert not listener.is_alive()
    connection.close()
