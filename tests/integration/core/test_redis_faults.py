"""Redis going away, restarting empty or being flushed: schedulers ride it out and rebuild the jobs by themselves.

Each test counts per occurrence (receiver hits matched to scheduled seconds, see
``tests/occurrences.py``): none lost, duplicated, early or stuck.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from chronoflow.devtools.embedded_redis import EmbeddedRedis
from chronoflow.store.migrations import upgrade
from tests.integration.conftest import Stack
from tests.occurrences import account
from tests.services import HttpReceiver

RECOVERY_S = 10
"""Firing resumes within this after Redis is back, without a human (issue 10)."""


def _firing_after(stack: Stack, receiver: HttpReceiver, instant: float) -> None:
    stack.wait_until(lambda: any(r.arrived_at > instant for r in receiver.requests), timeout=RECOVERY_S)


def _assert_accounted(stack: Stack, receiver: HttpReceiver, chrono_id: str, start: float, fault: float) -> None:
    """Every second from ``start`` to a little after recovery is accounted for, the ``fault`` instant included."""
    time.sleep(3)
    end = time.time() - 2  # occurrences due in the last seconds may still be on their way
    assert end > fault + 1
    runs = stack.runs(chrono_id)
    tally = account(runs, [r.arrived_at for r in receiver.requests], start, end)
    seen = [(r.scheduled_for.isoformat(), r.status, r.attempt, r.error_message) for r in runs]
    assert tally.faults() == {"lost": 0, "duplicated": 0, "early": 0, "stuck": 0, "miscounted": 0}, (tally, seen)
    assert tally.executed > 0, (start, end, seen)


def test_a_scheduler_and_a_worker_survive_redis_restarting_empty_on_the_same_port(
    sqlite_url: str, tmp_path: Path, http_receiver: HttpReceiver,
) -> None:
    """It keeps the scheduler and the worker alive through the outage, the scheduler logging it once, then fires again within seconds, losing nothing."""
    upgrade(sqlite_url)
    server = EmbeddedRedis(tmp_path / "redis").start()
    stack = Stack(sqlite_url, server.url, tmp_path)
    try:
        chrono = stack.create_http_chrono(http_receiver.url + "/tick", cron="* * * * * *")
        scheduler, worker = stack.spawn("scheduler"), stack.spawn("worker")
        first = http_receiver.wait_for(2, timeout=15)[0].arrived_at
        assert server.process is not None
        server.process.kill()  # no shutdown save: it comes back empty
        server.process.wait()
        (tmp_path / "redis" / "redis.rdb").unlink(missing_ok=True)
        time.sleep(2)
        server.start()
        back = time.time()
        stack.wait_until(lambda: any(r.arrived_at > back for r in http_receiver.requests), timeout=RECOVERY_S)
        # Neither process exits: the worker waits for Redis as the scheduler does.
        assert worker.poll() is None, worker.communicate()[0].decode()
        assert scheduler.poll() is None, scheduler.communicate()[0].decode()
        os.killpg(scheduler.pid, signal.SIGTERM)
        said = scheduler.communicate(timeout=15)[0].decode()
        # One line when the outage starts, one when it ends, one for the repair: not one per attempt.
        assert said.count("Redis is unreachable") == 1 and said.count("Redis is back") == 1, said
        assert "Redis had lost its jobs; rebuilt from the database: added 1" in said, said
        scheduler = stack.spawn("scheduler")
        respawned = time.time()
        # The occurrences due while no scheduler ran are handed over (coalesced) once it is up.
        stack.wait_until(lambda: any(r.arrived_at > respawned for r in http_receiver.requests), timeout=15)
        _assert_accounted(stack, http_receiver, chrono["id"], start=float(int(first)), fault=back)
    finally:
        stack.close()
        server.stop()


def test_flushall_is_reported_by_health_and_repaired_without_a_human(
    sqlite_stack: Stack, http_receiver: HttpReceiver,
) -> None:
    """It answers 503 "data lost; reconciling" while the jobs are gone, then fires again and answers 200."""
    stack = sqlite_stack
    chrono = stack.create_http_chrono(http_receiver.url + "/tick", cron="* * * * * *")
    scheduler = stack.spawn("scheduler")
    stack.spawn("worker")
    first = http_receiver.wait_for(2, timeout=15)[0].arrived_at
    stack.api.headers.pop("Authorization")
    stack.wait_until(lambda: stack.api.get("/health").status_code == 200)
    # Hold the scheduler still so the window in which Redis is empty can be observed for sure.
    os.killpg(scheduler.pid, signal.SIGSTOP)
    try:
        stack.redis.flushall()
        flushed = time.time()
        health = stack.api.get("/health")
    finally:
        os.killpg(scheduler.pid, signal.SIGCONT)
    assert health.status_code == 503, health.text
    assert health.json()["redis"] == {"ok": False, "error": "data lost; reconciling"}
    _firing_after(stack, http_receiver, flushed)
    stack.wait_until(lambda: stack.api.get("/health").status_code == 200, timeout=RECOVERY_S)
    _assert_accounted(stack, http_receiver, chrono["id"], start=float(int(first)), fault=flushed)
