"""The scheduler as real processes: wake-ups instead of polling, one active among several, fail-over."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from chronoflow.scheduling.heartbeats import LEADER_KEY
from tests.integration.conftest import Stack


def test_a_new_earlier_job_wakes_the_scheduler(sqlite_stack: Stack, http_receiver) -> None:
    """It fires a chrono created while the scheduler sleeps towards a far deadline, on time, never early."""
    stack = sqlite_stack
    stack.create_http_chrono(http_receiver.url + "/far", cron="0 0 1 1 *")
    stack.spawn("worker")
    stack.spawn("scheduler")
    stack.wait_until(lambda: stack.redis.get(LEADER_KEY))
    time.sleep(0.5)  # the scheduler is now blocked waiting
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    stack.create_http_chrono(http_receiver.url + "/soon", cron=at.isoformat())
    request = http_receiver.wait_for(1, timeout=10, path="/soon")[0]
    assert request.arrived_at >= at.timestamp()
    # Not a speed target (bench/lateness.py measures that): only proof it did not wait for a poll interval.
    assert request.arrived_at - at.timestamp() < 5


def test_an_idle_worker_still_takes_jobs_at_once(sqlite_stack: Stack, http_receiver) -> None:
    """It keeps an idle worker's blocking dequeue alive past the Redis client's default 5 s read timeout."""
    stack = sqlite_stack
    worker = stack.spawn("worker")
    stack.spawn("scheduler")
    time.sleep(7)  # idle for longer than redis-py's default socket timeout
    at = datetime.now(UTC) + timedelta(seconds=3)  # room for a loaded machine to make the request
    stack.create_http_chrono(http_receiver.url + "/after-idle", cron=at.isoformat())
    request = http_receiver.wait_for(1, timeout=15)[0]
    # Generous bound, not a speed target: a timed-out dequeue backs off for seconds.
    assert request.arrived_at - at.timestamp() < 2
    worker.terminate()
    output = worker.communicate(timeout=15)[0].decode()
    assert "could not connect to Redis" not in output


def test_two_schedulers_never_run_an_occurrence_twice_and_fail_over(sqlite_stack: Stack, http_receiver) -> None:
    """It keeps one scheduler active, runs each occurrence once, and lets the standby take over."""
    stack = sqlite_stack
    chrono = stack.create_http_chrono(http_receiver.url + "/tick", cron="* * * * * *")
    stack.spawn("worker")
    first = stack.spawn("scheduler")
    second = stack.spawn("scheduler")
    http_receiver.wait_for(3, timeout=15)
    leader = stack.redis.get(LEADER_KEY)
    assert leader is not None
    # Kill whichever is active, without letting it release the lease.
    for process in (first, second):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if stack.redis.get(LEADER_KEY) == leader:
            break  # killed the standby first: the lease is unchanged; kill the other one too
    survivors = [p for p in (first, second) if p.poll() is None]
    killed_at = time.time()
    if not survivors:
        survivors = [stack.spawn("scheduler")]
    stack.wait_until(lambda: any(r.arrived_at > killed_at + 0.5 for r in http_receiver.requests), timeout=15)
    time.sleep(1.5)
    runs = stack.runs(chrono["id"])
    per_occurrence = Counter((r.scheduled_for, r.attempt) for r in runs)
    assert max(per_occurrence.values()) == 1
    paths = Counter(r.path for r in http_receiver.requests)
    assert paths["/tick"] <= len(runs), "a request went out without a claimed run"
    scheduled_for = [r.scheduled_for for r in runs if r.trigger == "schedule"]
    assert len(scheduled_for) == len(set(scheduled_for))
