"""Spare children: forked and isolated before a run asks, handed out once, never dead, never shared."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import TypeVar

import pytest

from chronoflow.sandbox import FunctionLimits, RunStatus
from chronoflow.sandbox.forkserver import MAX_SPARE_KEYS
from chronoflow.sandbox.runner import _Child

from .conftest import make_policy
from .processes import WatchedRunner, alive, wait_exited, wait_until

W = TypeVar("W", bound=WatchedRunner)

TRIVIAL = "def run(ctx):\n    return 1\n"
LIMITS = FunctionLimits(timeout_ms=3000, max_memory_mb=128)


def _run(sandbox: WatchedRunner, code: str = TRIVIAL, limits: FunctionLimits = LIMITS):
    return sandbox.run(code, extras={}, state={}, limits=limits)


def _started(sandbox: W) -> W:
    """``sandbox`` with its fork server started, as a worker starts it: not within a run's time limit."""
    sandbox.start()
    return sandbox


def _ok(sandbox: WatchedRunner, code: str = TRIVIAL, limits: FunctionLimits = LIMITS):
    """The result of a run that must succeed (its error in the failure's message)."""
    result = _run(sandbox, code, limits)
    assert result.status is RunStatus.SUCCESS, (result.status, result.error, result.duration_ms)
    return result


def _count(spares: set[int], count: int, other_than: set[int] | None = None) -> set[int] | None:
    """``spares`` once there are ``count`` of them (and they are not ``other_than``), else ``None``."""
    return spares if len(spares) == count and spares != other_than else None


def _field(pid: int, name: str) -> str:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(name + ":")), "")


def _limits(pid: int) -> dict[str, str]:
    """``/proc/PID/limits`` by name, the soft and hard values only."""
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {row[:26].strip(): " ".join(row[26:].split()[:2]) for row in rows}


def _seen_from_outside(pid: int) -> dict[str, object]:
    """What the host can read of a child: identity, layers in /proc, limits, descriptors, environment."""
    fields = ("Uid", "Gid", "Groups", "NoNewPrivs", "Seccomp", "Seccomp_filters", "CapInh", "CapPrm",
              "CapEff", "CapBnd", "CapAmb")
    limits = _limits(pid)
    limits.pop("Max address space")  # the warm heap's size at the fork plus the limit: compared apart
    return {
        **{name: _field(pid, name) for name in fields},
        "limits": limits,
        "fds": {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}").split(":")[0]
                for fd in os.listdir(f"/proc/{pid}/fd")},
        "environ": Path(f"/proc/{pid}/environ").read_bytes(),
        "own group": os.getpgid(pid) == pid,
        "netns": os.readlink(f"/proc/{pid}/ns/net"),
        "owner of /proc files": os.stat(f"/proc/{pid}/status").st_uid,  # root's when not dumpable
    }


def test_a_second_run_gets_a_spare_forked_before_it_asked():
    """It allows a run to skip the fork and the isolation: the child it gets existed before it asked."""
    with _started(WatchedRunner(make_policy())) as sandbox:
        assert _ok(sandbox).result == 1
        assert sandbox.handed[0][1] is False  # nothing to hand out yet: forked on request
        (spare,) = wait_until(sandbox.spares)
        result = _run(sandbox)
        assert result.status is RunStatus.SUCCESS and result.result == 1
        assert sandbox.handed[1] == (spare, True)
        (replacement,) = wait_until(sandbox.spares)  # forked after the answer, for the next run
        assert replacement != spare


def test_a_spare_is_isolated_like_a_child_forked_on_request():
    """It denies a spare any privilege a child forked on request lacks: same layers, limits, identity."""
    with _started(WatchedRunner(make_policy())) as sandbox:
        first: list = []
        sleeper = "def run(ctx):\n    ctx.sleep(1.5)\n    return 1\n"
        thread = threading.Thread(target=lambda: first.append(_run(sandbox, sleeper)))
        thread.start()
        try:
            fresh, was_spare = wait_until(lambda: sandbox.handed and sandbox.handed[0])
            assert was_spare is False
            (spare,) = wait_until(sandbox.spares)
            # The last layer on both: the seccomp filter (both blocked reading their channel by then).
            wait_until(lambda: _field(fresh, "Seccomp") == "2" and _field(spare, "Seccomp") == "2")
            seen_fresh, seen_spare = _seen_from_outside(fresh), _seen_from_outside(spare)
            memory_fresh = _limits(fresh)["Max address space"]
            memory_spare = _limits(spare)["Max address space"]
        finally:
            thread.join()
        assert first[0].status is RunStatus.SUCCESS
        fresh_layers = sandbox.active_layers

        netns_fresh, netns_spare = seen_fresh.pop("netns"), seen_spare.pop("netns")
        assert seen_spare == seen_fresh
        assert seen_spare["fds"] == {0: "/dev/null", 1: "/dev/null", 2: "/dev/null", 3: "socket"}
        assert seen_spare["environ"] == b"" and seen_spare["own group"]
        server_netns = os.readlink(f"/proc/{sandbox.server_pid}/ns/net")
        if "netns" in fresh_layers:
            assert netns_fresh != server_netns and netns_spare != server_netns and netns_spare != netns_fresh
        if os.geteuid() == 0:
            assert seen_spare["Uid"].split() == ["65534"] * 4
        soft_fresh, soft_spare = (int(value.split()[0]) for value in (memory_fresh, memory_spare))
        assert abs(soft_fresh - soft_spare) <= 8 * 1024 * 1024  # the same heap plus the same limit

        second = _run(sandbox)
        assert second.ok and sandbox.handed[1] == (spare, True)
        assert sandbox.active_layers == fresh_layers  # what the spare found in effect on itself


def test_a_spare_killed_before_its_hand_out_is_not_handed_out():
    """It denies handing out a dead spare: a spare killed from outside is dropped, the next run succeeds."""
    with _started(WatchedRunner(make_policy())) as sandbox:
        assert _ok(sandbox).ok
        (spare,) = wait_until(sandbox.spares)
        server = sandbox.server_pid
        os.kill(spare, signal.SIGKILL)
        wait_exited(spare)
        result = _run(sandbox)
        assert result.status is RunStatus.SUCCESS and result.result == 1
        pid, was_spare = sandbox.handed[1]
        assert pid != spare and was_spare is False
        assert sandbox.server_pid == server  # the same fork server: it did not fail on the dead spare
        (replacement,) = wait_until(sandbox.spares)
        assert _ok(sandbox).ok and sandbox.handed[2] == (replacement, True)


def test_a_spare_killed_while_the_server_is_busy_is_not_handed_out():
    """It denies handing out a dead spare even when its death and the request arrive together."""
    with _started(WatchedRunner(make_policy())) as sandbox:
        assert _ok(sandbox).ok
        (spare,) = wait_until(sandbox.spares)
        server = sandbox.server_pid
        os.kill(server, signal.SIGSTOP)  # the server sees the death only with the request
        try:
            os.kill(spare, signal.SIGKILL)
            wait_exited(spare)
            results: list = []
            thread = threading.Thread(target=lambda: results.append(_run(sandbox)))
            thread.start()
            thread.join(0.2)
        finally:
            os.kill(server, signal.SIGCONT)
        thread.join()
        assert results[0].status is RunStatus.SUCCESS and results[0].result == 1
        assert sandbox.handed[1][0] != spare and sandbox.handed[1][1] is False
        assert sandbox.server_pid == server


class _HandsOutDead(WatchedRunner):
    """A runner whose child dies between the hand-out and the job, whatever the server checked."""

    def _spawn(self, limits: FunctionLimits) -> _Child:
        child = super()._spawn(limits)
        os.kill(child.pid, signal.SIGKILL)
        wait_exited(child.pid)
        return child


def test_a_child_dead_at_its_hand_out_fails_the_run_cleanly():
    """It denies a child that died before reading its job any other outcome than a failed run, as before."""
    with _started(_HandsOutDead(make_policy())) as sandbox:
        for _ in range(2):  # a child forked on request, then a spare
            result = _run(sandbox)
            assert result.status is RunStatus.FAILED, (result.status, result.error, result.duration_ms)
            assert result.error == "the sandbox process was killed (memory or CPU limit)"
        assert [spare for _, spare in sandbox.handed] == [False, True]


def test_runs_with_different_limits_get_children_with_their_own():
    """It denies a run the memory of another run's limits: each settings' spare has its own limits."""
    small = FunctionLimits(timeout_ms=3000, max_memory_mb=32)
    large = FunctionLimits(timeout_ms=3000, max_memory_mb=256)
    code = "def run(ctx):\n    return len([0] * (20 * 1024 * 1024))\n"  # 160 MB of list
    with _started(WatchedRunner(make_policy())) as sandbox:
        for round_ in range(3):
            failed = _run(sandbox, code, small)
            assert failed.status is RunStatus.FAILED and "memory limit" in failed.error, failed
            assert _run(sandbox, code, large).result == 20 * 1024 * 1024
            if round_ == 0:
                wait_until(lambda: len(sandbox.spares()) == 2)  # one for each settings
        assert [spare for _, spare in sandbox.handed] == [False, False, True, True, True, True]


def test_the_least_recently_used_settings_lose_their_spare():
    """It denies spares without bound: past the fourth settings, the oldest settings' spare is killed."""
    settings = [FunctionLimits(timeout_ms=3000, max_memory_mb=64 + 8 * i) for i in range(MAX_SPARE_KEYS + 1)]
    with _started(WatchedRunner(make_policy())) as sandbox:
        for limits in settings[:MAX_SPARE_KEYS]:
            assert _ok(sandbox, limits=limits).ok
        first_spares = wait_until(lambda: _count(sandbox.spares(), MAX_SPARE_KEYS))
        assert _ok(sandbox, limits=settings[MAX_SPARE_KEYS]).ok
        spares = wait_until(lambda: _count(sandbox.spares(), MAX_SPARE_KEYS, other_than=first_spares))
        assert len(first_spares - spares) == 1  # the first settings' spare, killed
        assert _ok(sandbox, limits=settings[MAX_SPARE_KEYS]).ok and sandbox.handed[-1][1] is True
        assert _ok(sandbox, limits=settings[0]).ok and sandbox.handed[-1][1] is False


def test_closing_the_runner_leaves_no_spare_alive():
    """It denies any process outliving the runner: every spare and the fork server are gone after close."""
    sandbox = _started(WatchedRunner(make_policy()))
    try:
        for memory in (64, 96, 128):
            assert _ok(sandbox, limits=FunctionLimits(timeout_ms=3000, max_memory_mb=memory)).ok
        spares = wait_until(lambda: _count(sandbox.spares(), 3))
        server = sandbox.server_pid
    finally:
        sandbox.close()
    for pid in (*spares, server):
        with pytest.raises(ProcessLookupError):  # gone, not even a zombie: the server reaped them
            os.kill(pid, 0)


def test_every_run_gets_a_child_of_its_own():
    """It denies a run any trace of the previous one: each run has a new process, gone once it ends."""
    code = (
        "import random\n"
        "seen = []\n"
        "def run(ctx):\n"
        "    seen.append(1)\n"
        "    return [len(seen), random.random()]\n"
    )
    with _started(WatchedRunner(make_policy())) as sandbox:
        results = []
        for _ in range(4):
            results.append(_ok(sandbox, code))
            wait_until(sandbox.spares)  # the next run gets a spare
        pids = [pid for pid, _ in sandbox.handed]
        assert len(set(pids)) == 4 and [spare for _, spare in sandbox.handed] == [False, True, True, True]
        for pid in pids:
            wait_until(lambda pid=pid: not alive(pid))  # each child ended with its run
        assert [r.result[0] for r in results] == [1, 1, 1, 1]
        assert len({r.result[1] for r in results}) == 4  # spares forked from one heap do not share a stream
