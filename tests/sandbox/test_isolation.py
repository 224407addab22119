"""The child process as the host sees it: descriptors, user, environment, seccomp, lifetime."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from .conftest import make_policy
from .processes import WatchedRunner, children, wait_until


@pytest.fixture(scope="module")
def live_child():
    """The child of a run caught mid-run (blocked in ctx.sleep), inspected through /proc."""
    with WatchedRunner(make_policy()) as sandbox:
        sandbox.start()
        done = threading.Event()
        thread = threading.Thread(
            target=lambda: (sandbox.run("def run(ctx):\n    ctx.sleep(1.5)\n", extras={}, state={}), done.set())
        )
        thread.start()
        # The run's own child: the server also holds a spare, forked once the run got its child.
        pid, _ = wait_until(lambda: sandbox.handed and sandbox.handed[0], timeout=3)
        assert pid in children(sandbox.server_pid)
        time.sleep(0.2)  # let it finish isolating itself
        info = {
            "pid": pid,
            "fds": {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")},
            "status": Path(f"/proc/{pid}/status").read_text(),
            "environ": Path(f"/proc/{pid}/environ").read_bytes(),
            "pgid": os.getpgid(pid),
            "layers": None,
        }
        thread.join()
        info["layers"] = sandbox.active_layers
        yield info


def _field(status: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith(name + ":"))


def test_child_has_only_its_channel(live_child):
    """It denies the child any descriptor beyond /dev/null and its channel (fd 3)."""
    fds = live_child["fds"]
    assert set(fds) == {0, 1, 2, 3}
    assert all(fds[fd] == "/dev/null" for fd in (0, 1, 2))
    assert fds[3].startswith("socket:")


def test_child_environment_is_empty(live_child):
    """It denies the child the host's environment."""
    assert live_child["environ"] == b""


def test_child_own_process_group(live_child):
    """It allows killing the child's whole group: the child leads its own process group."""
    assert live_child["pgid"] == live_child["pid"]


def test_child_unprivileged_when_root(live_child):
    """It denies root to user code: the child runs as the sandbox user when the host is root."""
    uids = _field(live_child["status"], "Uid").split()
    if os.geteuid() == 0:
        assert set(uids) == {"65534"}
        assert "setuid" in live_child["layers"]
    assert _field(live_child["status"], "NoNewPrivs") == "1"


def test_child_seccomp(live_child):
    """It denies dangerous system calls through a seccomp filter where available (x86_64, aarch64)."""
    if "seccomp" not in live_child["layers"]:
        pytest.skip("seccomp filter not available on this host")
    assert _field(live_child["status"], "Seccomp") == "2"


def test_fork_server_dies_with_its_owner(tmp_path):
    """It denies orphaned sandboxes: killing the owner ends the fork server."""
    script = textwrap.dedent(
        """
        import sys, time
        from chronoflow.sandbox import SandboxPolicy, SandboxRunner
        runner = SandboxRunner(SandboxPolicy())
        runner.start()
        print(runner._server.process.pid, flush=True)
        time.sleep(60)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(owner.stdout.readline())
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                break
            # Reap it if the kernel re-parented it to us (we may be a subreaper); otherwise wait.
            try:
                os.waitpid(server_pid, os.WNOHANG)
            except ChildProcessError:
                pass
            state = Path(f"/proc/{server_pid}/stat").read_text().split()[2] if Path(f"/proc/{server_pid}").exists() else "X"
            if state in ("Z", "X"):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the fork server outlived its owner")
    finally:
        if owner.poll() is None:
            owner.kill()
