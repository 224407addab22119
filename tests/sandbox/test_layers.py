"""Layers that hold: Landlock in a non-root process, required layers enforced, reported as the child saw them."""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys

import pytest

from chronoflow.sandbox import SandboxLayersMissing, SandboxRunner, SandboxUnavailable, isolation
from chronoflow.sandbox.layers import LayerReport, log_report, probe

from .conftest import make_policy
from .forked import run_forked

NOBODY = 65534
PR_SET_DUMPABLE = 4


def _landlock_abi() -> int:
    numbers = isolation._SYS_LANDLOCK.get(platform.machine())  # the kernel's own answer, not a guess
    if numbers is None:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


def _become_nobody() -> None:
    """What a worker that does not run as root looks like: a plain uid, no capabilities."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return f"read {len(handle.read())} bytes"
    except OSError as exc:
        return f"denied {type(exc).__name__}"


@pytest.mark.skipif(_landlock_abi() < 1, reason="the kernel has no Landlock")
def test_landlock_holds_in_a_non_root_process():
    """It denies a non-root child other processes' environment: no-new-privs comes before Landlock."""
    # A process of the same user that is dumpable, like a worker that never changed its uid.
    release_r, release_w = os.pipe()
    neighbour = os.fork()
    if neighbour == 0:  # pragma: no cover - runs in the forked child
        try:
            _become_nobody()
            isolation.prctl(PR_SET_DUMPABLE, 1)
            os.close(release_w)
            os.read(release_r, 1)
        finally:
            os._exit(0)
    os.close(release_r)
    try:
        environ = f"/proc/{neighbour}/environ"

        def control() -> str:
            _become_nobody()
            return _read(environ)

        def isolated() -> str:
            _become_nobody()
            layers = isolation.isolate({"timeout_ms": 2000, "max_memory_mb": 64}, uid=NOBODY, network_namespace=True)
            return ",".join(layers) + "|" + _read(environ) + "|" + _read("/etc/passwd")

        _, seen = run_forked(control)
        assert seen.startswith("read "), seen  # without the sandbox, the same user reads it
        _, outcome = run_forked(isolated)
        layers, environ_read, passwd_read = outcome.split("|")
        assert {"no-new-privs", "landlock", "setuid", "seccomp", "rlimits"} <= set(layers.split(",")), layers
        assert "netns" not in layers.split(",")  # not root: no namespace, and none claimed
        assert environ_read == "denied PermissionError"
        assert passwd_read == "denied PermissionError"
    finally:
        os.close(release_w)
        os.waitpid(neighbour, 0)


def test_setuid_reports_what_the_child_is():
    """It allows ``setuid`` only for a child without a root uid or capabilities, dropped or never root."""
    _, as_root = run_forked(lambda: ",".join(isolation.isolate({"timeout_ms": 2000, "max_memory_mb": 64}, uid=NOBODY,
                                                          network_namespace=False))
                       + f"|{os.getuid()}")
    layers, uid = as_root.split("|")
    assert "setuid" in layers.split(",") and uid != "0"
    if os.geteuid() == 0:
        # uid 0 is never a target: the child stays root, and says so by leaving the layer out.
        isolation_as_root = run_forked(lambda: ",".join(isolation.isolate(
            {"timeout_ms": 2000, "max_memory_mb": 64}, uid=0, network_namespace=False)) + f"|{os.getuid()}")[1]
        layers, uid = isolation_as_root.split("|")
        assert "setuid" not in layers.split(",") and uid == "0"


def test_missing_required_layer_refuses_code(sent):
    """It denies compiling and running anything when a required layer is missing, naming it."""
    policy = make_policy(network_namespace=False, required_layers=("rlimits", "netns", "seccomp"))
    with SandboxRunner(policy) as sandbox:
        layers = sandbox.ping()  # a ping still answers: it is how the missing layer is seen
        assert "netns" not in layers and "rlimits" in layers
        with pytest.raises(SandboxLayersMissing, match="netns") as refused:
            sandbox.check("def run(ctx):\n    return (\n")  # not even compiled: no CodeError
        assert refused.value.missing == ("netns",) and refused.value.active == layers
        assert "FUNCTION_SANDBOX_REQUIRED_LAYERS" in str(refused.value)
        with pytest.raises(SandboxLayersMissing, match="netns"):
            sandbox.run("def run(ctx):\n    ctx.message.send(to='5511999990001', text='x')\n",
                        extras={}, state={}, send_message=sent)
        assert sent.calls == []
        report = probe(sandbox)
        assert not report.ok and report.missing == ("netns",)
        assert report.to_json() == {"ok": False, "layers": list(layers), "required": ["rlimits", "netns", "seccomp"],
                                    "missing": ["netns"]}


def test_default_required_layers_hold_here(sent):
    """It allows runs under the default requirement (rlimits, no-new-privs, seccomp, setuid) on this host."""
    with SandboxRunner(make_policy()) as sandbox:
        report = probe(sandbox)
        assert report.ok, report
        assert set(report.required) <= set(report.layers)
        result = sandbox.run("def run(ctx):\n    return ctx.message.send(to='5511999990001', text='x')\n",
                             extras={}, state={}, send_message=sent)
        assert result.ok and sent.calls == [("5511999990001", "x")]


def test_probe_of_a_sandbox_that_cannot_start(monkeypatch, caplog):
    """It denies nothing silently: a fork server that cannot start is reported, with the cause in the log only."""
    missing_interpreter = "/nonexistent/chronoflow-test/python3"
    monkeypatch.setattr(sys, "executable", missing_interpreter)
    with SandboxRunner(make_policy()) as sandbox:
        with pytest.raises(SandboxUnavailable) as failed:
            sandbox.start()
        assert missing_interpreter not in str(failed.value)
        with caplog.at_level(logging.ERROR, logger="chronoflow.sandbox"):
            report = probe(sandbox)
    assert report == LayerReport((), report.required, error="unavailable") and not report.ok
    assert report.to_json()["error"] == "unavailable"
    assert any(r.exc_info for r in caplog.records), "the cause is logged with its traceback"


def test_start_up_log_names_missing_layers(caplog):
    """It logs the active layers at start, or an error naming the required layers that are missing."""
    with caplog.at_level(logging.INFO, logger="chronoflow.sandbox"):
        log_report(LayerReport(("process-group", "rlimits", "seccomp"), ("rlimits", "landlock", "netns")), "worker w1")
        log_report(LayerReport(("process-group", "rlimits", "seccomp"), ("rlimits",)), "api")
    missing, fine = caplog.records
    assert missing.levelno == logging.ERROR
    assert "worker w1" in missing.getMessage() and "landlock,netns" in missing.getMessage()
    assert fine.levelno == logging.INFO and "process-group,rlimits,seccomp" in fine.getMessage()
