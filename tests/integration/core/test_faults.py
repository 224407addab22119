"""Invariant 6: an occurrence handed over is accounted for, and overdue work is bounded."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy.engine import make_url

from chronoflow.scheduling.heartbeats import worker_alive
from chronoflow.scheduling.jobs import occurrence_job_id
from chronoflow.worker.abandoned import recover_abandoned_jobs
from tests.integration.conftest import Stack


def _wait_past(instant: float) -> None:
    """Sleep until the wall clock has passed ``instant`` (bounded: callers pass instants seconds away)."""
    time.sleep(max(0.0, instant - time.time()))


def test_an_occurrence_taken_after_its_grace_is_recorded_missed(sqlite_stack: Stack, http_receiver) -> None:
    """It records an occurrence a worker takes beyond the misfire grace as missed, without calling the target."""
    stack = sqlite_stack
    chrono = stack.create_http_chrono(http_receiver.url + "/late", cron="* * * * * *", misfireGraceSeconds=1)
    due = stack.jobs.scheduled_due(chrono["id"])
    assert stack.hand_over(due) == 1
    _wait_past(due + 1.2)  # the queue was behind: nobody took the job inside its grace
    stack.drain()
    runs = stack.runs(chrono["id"])
    assert [r.status for r in runs] == ["missed"]
    assert "beyond the misfire grace of 1 s" in runs[0].error_message
    assert http_receiver.requests == []
    stored = stack.chrono(chrono["id"])
    assert stored.last_run_status == "missed" and stored.next_run_at.timestamp() > due


def _started_job_ids(stack: Stack) -> set[str]:
    registry = StartedJobRegistry(stack.settings.queue_name, connection=stack.redis)
    return {registry.parse_job_id(entry.decode()) for entry in stack.redis.zrange(registry.key, 0, -1)}


def test_a_worker_killed_before_its_claim_leaves_the_occurrence_to_another(sqlite_stack: Stack, http_receiver) -> None:
    """It requeues the job of a worker SIGKILLed between dequeue and claim, and the occurrence runs once."""
    stack = sqlite_stack
    chrono = stack.create_http_chrono(http_receiver.url + "/once", cron="*/10 * * * *")
    due = stack.jobs.scheduled_due(chrono["id"])
    assert stack.hand_over(due) == 1
    job_id = occurrence_job_id(chrono["id"], datetime.fromtimestamp(due, UTC), 1)
    # Hold SQLite's write lock: the worker dequeues the job, then waits inside its claim.
    lock = sqlite3.connect(make_url(stack.database_url).database, timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    try:
        worker = stack.spawn("worker")
        stack.wait_until(lambda: job_id in _started_job_ids(stack), timeout=30)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        lock.rollback()
        lock.close()
    assert stack.runs(chrono["id"]) == [] and stack.queued() == []  # nothing ran, nothing queued: stuck
    stack.spawn("scheduler")
    stack.spawn("worker")
    http_receiver.wait_for(1, timeout=30)
    stack.wait_until(lambda: [r.status for r in stack.runs(chrono["id"])] == ["success"], timeout=10)
    assert len(http_receiver.requests) == 1 and job_id not in _started_job_ids(stack)


def test_manual_runs_whose_job_was_lost_are_requeued_or_recorded(stack: Stack, http_receiver) -> None:
    """It queues a lost manual run again inside the grace and records one beyond it as missed."""
    fresh = stack.create_http_chrono(http_receiver.url + "/fresh", cron="0 0 1 1 *")
    stale = stack.create_http_chrono(http_receiver.url + "/stale", cron="0 0 1 1 *", misfireGraceSeconds=0)
    fresh_run = stack.api.post(f"/chronos/{fresh['id']}/trigger").json()["runId"]
    stale_run = stack.api.post(f"/chronos/{stale['id']}/trigger").json()["runId"]
    for run_id in (fresh_run, stale_run):  # the jobs vanish before any worker takes them
        Job.fetch(f"manual_{run_id}", connection=stack.redis).delete()
    assert stack.queued() == []
    is_alive = lambda name: worker_alive(stack.redis, name)  # noqa: E731
    recovery = stack.db_run(recover_abandoned_jobs(stack.db, stack.jobs, is_alive, orphan_after=timedelta(0)))
    assert recovery.requeued == [f"manual_{fresh_run}"] and recovery.missed == [stale_run]
    assert stack.api.get(f"/runs/{stale_run}").json()["status"] == "missed"
    stack.drain()
    assert stack.api.get(f"/runs/{fresh_run}").json()["status"] == "success"
    assert [r.path for r in http_receiver.requests] == ["/fresh"]
    again = stack.db_run(recover_abandoned_jobs(stack.db, stack.jobs, is_alive, orphan_after=timedelta(0)))
    assert not again


def test_a_slow_receiver_does_not_grow_the_queue(sqlite_stack: Stack, http_receiver) -> None:
    """It keeps at most one occurrence of a per-second chrono waiting behind a receiver slower than a second."""
    stack = sqlite_stack
    http_receiver.respond("/slow", delay=1.5)
    chrono = stack.create_http_chrono(http_receiver.url + "/slow", cron="* * * * * *", misfireGraceSeconds=30)
    stack.spawn("worker")
    stack.spawn("scheduler")
    http_receiver.wait_for(1, timeout=30)
    deadline = time.monotonic() + 5
    longest = 0
    while time.monotonic() < deadline:  # five occurrences per three runs: without coalescing the queue grows
        longest = max(longest, len(stack.queued()))
        time.sleep(0.1)
    assert longest <= 1
    notes = [r.error_message or "" for r in stack.runs(chrono["id"]) if r.status == "success"]
    assert any("coalesced into this run" in note for note in notes), notes
