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
from chronoflow.store.models import RunTrigger
from chronoflow.worker.abandoned import recover_abandoned_jobs
from chronoflow.worker.runs import MustWait, claim_occurrence
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
    # RQ moves the job out of its started registry just after the run is recorded.
    stack.wait_until(lambda: job_id not in _started_job_ids(stack), timeout=10)
    assert len(http_receiver.requests) == 1


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


def _overlapping(runs: list) -> int:
    """How many successive runs started before the one before them finished."""
    done = sorted((r for r in runs if r.status == "success"), key=lambda r: r.started_at)
    return sum(1 for a, b in zip(done, done[1:], strict=False) if b.started_at < a.finished_at)


def test_overlap_policies_at_claim(stack: Stack) -> None:
    """It claims an occurrence due while the previous run still runs according to the chrono's overlap policy."""
    first = datetime.now(UTC).replace(microsecond=0)
    second = first + timedelta(seconds=1)
    outcomes = {}
    for policy in ("skip", "allow", "buffer-one"):
        chrono_id = stack.create_http_chrono("http://127.0.0.1:9/x", cron="* * * * * *", overlapPolicy=policy)["id"]
        claims = [stack.db_run(claim_occurrence(stack.db, chrono_id, when, RunTrigger.SCHEDULE, 1, "w",
                                                next_run_at=when + timedelta(seconds=1)))
                  for when in (first, second)]
        outcomes[policy] = claims[1]
        assert claims[0].runnable
    assert outcomes["skip"].run.status == "skipped"
    assert outcomes["skip"].run.error_message.endswith("was still running (overlapPolicy skip)")
    assert outcomes["allow"].runnable
    assert outcomes["buffer-one"] == MustWait(first)


def test_a_buffered_occurrence_is_not_overtaken_by_the_next_one(stack: Stack) -> None:
    """It records skipped a buffer-one occurrence due while an earlier one still waits, nothing running."""
    waiting_since = datetime.now(UTC).replace(microsecond=0)
    due = waiting_since + timedelta(seconds=1)
    chrono_id = stack.create_http_chrono("http://127.0.0.1:9/x", cron="* * * * * *",
                                         overlapPolicy="buffer-one")["id"]
    overtaking = stack.db_run(claim_occurrence(stack.db, chrono_id, due, RunTrigger.SCHEDULE, 1, "w",
                                               next_run_at=due + timedelta(seconds=1),
                                               waiting=lambda _chrono: waiting_since))
    assert overtaking.run.status == "skipped"
    assert overtaking.run.error_message == (f"skipped: the occurrence of {waiting_since.isoformat()} "
                                            "was waiting to run (overlapPolicy buffer-one)")
    assert stack.runs(chrono_id)[0].status == "skipped"


def test_skip_and_buffer_one_with_real_workers(sqlite_stack: Stack, http_receiver) -> None:
    """It skips, or buffers one, occurrence due while a per-second chrono's previous run still runs."""
    stack = sqlite_stack
    chronos = {}
    for policy in ("skip", "buffer-one"):
        http_receiver.respond(f"/{policy}", delay=1.5)
        chronos[policy] = stack.create_http_chrono(http_receiver.url + f"/{policy}", cron="* * * * * *",
                                                   misfireGraceSeconds=30, overlapPolicy=policy)["id"]
    for _ in range(3):  # one free worker takes the occurrences due while the two others call
        stack.spawn("worker")
    stack.spawn("scheduler")
    http_receiver.wait_for(2, timeout=30)
    time.sleep(4)  # several occurrences per chrono, each due while a run is in progress
    for _ in range(40):  # bounded (20 s more): a busy machine may not have finished a waited-for run yet
        runs = {policy: stack.runs(chrono_id) for policy, chrono_id in chronos.items()}
        if sum(1 for r in runs["buffer-one"] if r.finished_at and r.status != "skipped") >= 2:
            break
        time.sleep(0.5)
    for policy, chrono_runs in runs.items():
        skipped = [r for r in chrono_runs if r.status == "skipped"]
        assert skipped and f"overlapPolicy {policy}" in skipped[0].error_message, policy
        assert _overlapping(chrono_runs) == 0, policy
    done = sorted((r for r in runs["buffer-one"] if r.started_at and r.status != "skipped"), key=lambda r: r.started_at)
    assert len(done) >= 2
    # A waiting occurrence: due during the previous run, started soon after that run finished (it looks
    # again every WAIT_POLL_S; the bound leaves room for a machine busy with the rest of the suite).
    assert any(b.scheduled_for < a.finished_at and b.started_at - a.finished_at < timedelta(seconds=3)
               for a, b in zip(done, done[1:], strict=False) if a.finished_at is not None), \
        [(r.scheduled_for, r.started_at, r.finished_at) for r in done]
