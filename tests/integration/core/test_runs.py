"""Invariants 2-4: at most one execution per occurrence, nothing lost silently, crash safety."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

from chronoflow.scheduling.heartbeats import worker_alive
from chronoflow.scheduling.jobs import occurrence_job_id
from chronoflow.worker.runs import reap_lost_runs
from tests.integration.conftest import Stack


def test_a_job_delivered_twice_runs_once(stack: Stack, http_receiver) -> None:
    """It executes an occurrence once even when its job is queued twice."""
    chrono = stack.create_http_chrono(http_receiver.url + "/dup", cron="*/5 * * * *")
    due = stack.jobs.scheduled_due(chrono["id"])
    assert stack.hand_over(due) == 1
    job_id = occurrence_job_id(chrono["id"], datetime.fromtimestamp(due, UTC), 1)
    from rq.job import Job

    stack.jobs.enqueue(Job.fetch(job_id, connection=stack.redis))  # the same job, delivered again
    assert stack.queued().count(job_id.encode()) == 2
    stack.drain()
    time.sleep(0.3)
    assert len(http_receiver.requests) == 1
    runs = stack.runs(chrono["id"])
    assert [(r.status, r.attempt) for r in runs] == [("success", 1)]


def test_two_hand_overs_of_the_same_occurrence_run_once(stack: Stack, http_receiver) -> None:
    """It ignores a second hand-over of an occurrence that a worker already claimed."""
    from chronoflow.chronos.service import schedule_spec

    chrono = stack.create_http_chrono(http_receiver.url + "/race", cron="*/5 * * * *")
    due = stack.jobs.scheduled_due(chrono["id"])
    stack.hand_over(due)
    stored = stack.chrono(chrono["id"])
    # A second scheduler that read the old schedule job re-creates and hands over the same occurrence.
    stack.jobs.put_schedule(schedule_spec(stored, datetime.fromtimestamp(due, UTC)))
    stack.hand_over(due)
    stack.drain()
    time.sleep(0.3)
    assert len(http_receiver.requests) == 1
    assert len(stack.runs(chrono["id"])) == 1


def test_missed_occurrences_coalesce_within_grace_and_older_ones_are_recorded(stack: Stack, http_receiver) -> None:
    """It runs the latest missed occurrence inside the grace once and records older ones as missed."""
    chrono = stack.create_http_chrono(http_receiver.url + "/late", cron="* * * * *", misfireGraceSeconds=150)
    first = stack.jobs.scheduled_due(chrono["id"])
    # The scheduler was down for five minutes: occurrences first .. first+300 s have passed.
    assert stack.hand_over(first + 300 + 10) == 1
    stack.drain()
    runs = stack.runs(chrono["id"])
    statuses = [(r.scheduled_for.timestamp() - first, r.status) for r in runs]
    assert statuses == [(0, "missed"), (60, "missed"), (120, "missed"), (300, "success")]
    assert "2 missed occurrence(s) coalesced" in runs[-1].error_message
    assert len(http_receiver.requests) == 1
    assert stack.jobs.scheduled_due(chrono["id"]) == first + 360
    assert stack.chrono(chrono["id"]).next_run_at.timestamp() == first + 360


def test_a_one_shot_missed_beyond_grace_is_recorded_not_run(stack: Stack, http_receiver) -> None:
    """It records a one-shot that passed its grace as missed and deactivates it without calling."""
    at = datetime.now(UTC) + timedelta(seconds=20)
    chrono = stack.create_http_chrono(http_receiver.url + "/gone", cron=at.isoformat(), misfireGraceSeconds=60)
    stack.hand_over(at.timestamp() + 3600)
    stack.drain()
    assert [r.status for r in stack.runs(chrono["id"])] == ["missed"]
    assert http_receiver.requests == []
    stored = stack.chrono(chrono["id"])
    assert stored.is_active is False and stack.jobs.count_schedule_jobs(chrono["id"]) == 0


def test_scheduler_restart_after_downtime_handles_missed_occurrences(sqlite_stack: Stack, http_receiver) -> None:
    """It runs a real scheduler, stops it while occurrences pass, restarts it, and sees them coalesce into one run."""
    stack = sqlite_stack
    chrono = stack.create_http_chrono(http_receiver.url + "/tick", cron="* * * * * *", misfireGraceSeconds=30)
    worker = stack.spawn("worker")
    scheduler = stack.spawn("scheduler")
    http_receiver.wait_for(2, timeout=15)
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(10) == 0
    stopped_at = time.time()
    time.sleep(3.5)  # at least three occurrences pass with no scheduler
    before_restart = len(http_receiver.requests)
    stack.spawn("scheduler")
    def coalesced_after_restart() -> list:
        return [r for r in stack.runs(chrono["id"])  # the note is on the row before its call; wait for the end
                if r.scheduled_for.timestamp() > stopped_at and r.error_message and "coalesced" in r.error_message
                and r.status != "running"]

    stack.wait_until(coalesced_after_restart)
    runs = stack.runs(chrono["id"])
    during = [r for r in runs if stopped_at + 0.5 < r.scheduled_for.timestamp() < stopped_at + 3]
    assert during == [], "occurrences during the downtime were not run one by one"
    coalesced = coalesced_after_restart()
    assert len(coalesced) == 1 and coalesced[0].status == "success"
    assert len(http_receiver.requests) > before_restart
    os.killpg(worker.pid, signal.SIGTERM)


def test_a_worker_killed_mid_run_leaves_a_failed_run_and_the_next_occurrence(sqlite_stack: Stack, http_receiver) -> None:
    """It fails the run of a SIGKILLed worker as 'worker lost' and keeps the chrono's next occurrence."""
    stack = sqlite_stack
    http_receiver.respond("/slow", delay=30)
    chrono = stack.create_http_chrono(http_receiver.url + "/slow", cron="*/10 * * * *")
    due = stack.jobs.scheduled_due(chrono["id"])
    stack.hand_over(due)
    worker = stack.spawn("worker")
    http_receiver.wait_for(1, timeout=15)  # the worker is inside the HTTP call
    running = stack.runs(chrono["id"])
    assert [r.status for r in running] == ["running"]
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    assert stack.jobs.scheduled_due(chrono["id"]) == due + 600
    stack.wait_until(lambda: not worker_alive(stack.redis, running[0].worker), timeout=10)
    assert stack.db_run(reap_lost_runs(stack.db, lambda name: worker_alive(stack.redis, name))) == 1
    run = stack.runs(chrono["id"])[0]
    assert run.status == "failed" and "worker lost" in run.error_message and run.finished_at is not None
    assert stack.chrono(chrono["id"]).last_run_status == "failed"
    assert stack.jobs.count_schedule_jobs(chrono["id"]) == 1


def test_the_scheduler_reaps_lost_runs_by_itself(sqlite_stack: Stack, http_receiver) -> None:
    """It lets the running scheduler fail a dead worker's run without any manual step."""
    stack = sqlite_stack
    http_receiver.respond("/slow", delay=30)
    chrono = stack.create_http_chrono(http_receiver.url + "/slow", cron="*/10 * * * *")
    stack.hand_over(stack.jobs.scheduled_due(chrono["id"]))
    worker = stack.spawn("worker")
    http_receiver.wait_for(1, timeout=15)
    os.killpg(worker.pid, signal.SIGKILL)
    stack.spawn("scheduler")
    stack.wait_until(lambda: stack.runs(chrono["id"])[0].status == "failed", timeout=20)


def test_failures_are_retried_with_backoff_until_success(sqlite_stack: Stack, http_receiver) -> None:
    """It retries a 5xx with exponential backoff and records each attempt."""
    stack = sqlite_stack  # retry timing does not depend on the database
    http_receiver.respond("/flaky", statuses=[503, 502, 200])
    chrono = stack.create_http_chrono(http_receiver.url + "/flaky", cron="*/5 * * * *")
    stack.hand_over(stack.jobs.scheduled_due(chrono["id"]))
    stack.drain()
    stack.wait_until(lambda: stack.hand_over() or len(stack.runs(chrono["id"])) >= 2, timeout=5)
    stack.drain()
    stack.wait_until(lambda: stack.hand_over() or len(stack.runs(chrono["id"])) >= 3, timeout=5)
    stack.drain()
    runs = stack.runs(chrono["id"])
    assert [(r.attempt, r.trigger, r.status, r.http_status) for r in runs] == [
        (1, "schedule", "failed", 503), (2, "retry", "failed", 502), (3, "retry", "success", 200)]
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps  # JOB_BACKOFF_MS=200, doubled


def test_a_client_error_is_not_retried(sqlite_stack: Stack, http_receiver) -> None:
    """It does not retry a 4xx answer."""
    stack = sqlite_stack  # retry timing does not depend on the database
    http_receiver.respond("/bad", status=400, body="nope")
    chrono = stack.create_http_chrono(http_receiver.url + "/bad", cron="*/5 * * * *")
    stack.hand_over(stack.jobs.scheduled_due(chrono["id"]))
    stack.drain()
    time.sleep(0.5)
    assert stack.hand_over() == 0
    runs = stack.runs(chrono["id"])
    assert [(r.status, r.http_status, r.response_snippet) for r in runs] == [("failed", 400, "nope")]


def test_a_manual_trigger_runs_now_and_is_readable(stack: Stack, http_receiver) -> None:
    """It runs a manual trigger at once and exposes the run at /runs/{id}."""
    chrono = stack.create_http_chrono(http_receiver.url + "/now", cron="0 0 1 1 *")
    run_id = stack.api.post(f"/chronos/{chrono['id']}/trigger").json()["runId"]
    assert stack.api.get(f"/runs/{run_id}").json()["status"] == "running"
    stack.drain()
    run = stack.api.get(f"/runs/{run_id}").json()
    assert run["status"] == "success" and run["trigger"] == "manual" and run["httpStatus"] == 200
    history = stack.api.get(f"/chronos/{chrono['id']}/runs").json()
    assert history["total"] == 1 and history["items"][0]["id"] == run_id


def test_finishing_a_run_keeps_a_schedule_changed_during_it(stack: Stack) -> None:
    """It does not move nextRunAt back when the chrono's schedule was updated while its run was going on."""
    from chronoflow.store.models import RunTrigger
    from chronoflow.targets import TargetResult
    from chronoflow.worker.runs import claim_occurrence, finish_run

    chrono = stack.create_http_chrono("http://127.0.0.1:9/x", cron="*/5 * * * *")
    due = datetime.fromisoformat(chrono["nextRunAt"])
    claim = stack.db_run(claim_occurrence(stack.db, chrono["id"], due, RunTrigger.SCHEDULE, 1, "w",
                                          next_run_at=due + timedelta(minutes=5)))
    changed = stack.api.patch(f"/chronos/{chrono['id']}", json={"cron": "0 0 1 1 *"}).json()
    stack.db_run(finish_run(stack.db, claim, TargetResult("success").run_fields()))
    stored = stack.chrono(chrono["id"])
    assert stored.next_run_at == datetime.fromisoformat(changed["nextRunAt"])
    assert stored.last_run_status == "success" and stored.last_run_at == claim.run.started_at


def test_finishing_a_run_advances_next_run_at(stack: Stack) -> None:
    """It moves nextRunAt to the following occurrence when the run is recorded."""
    from chronoflow.store.models import RunTrigger
    from chronoflow.targets import TargetResult
    from chronoflow.worker.runs import claim_occurrence, finish_run

    chrono = stack.create_http_chrono("http://127.0.0.1:9/x", cron="*/5 * * * *")
    due = datetime.fromisoformat(chrono["nextRunAt"])
    claim = stack.db_run(claim_occurrence(stack.db, chrono["id"], due, RunTrigger.SCHEDULE, 1, "w",
                                          next_run_at=due + timedelta(minutes=5)))
    assert stack.chrono(chrono["id"]).next_run_at == due  # not before the run is recorded
    stack.db_run(finish_run(stack.db, claim, TargetResult("failed").run_fields()))
    stored = stack.chrono(chrono["id"])
    assert stored.next_run_at == due + timedelta(minutes=5) and stored.last_run_status == "failed"
