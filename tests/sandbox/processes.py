"""The sandbox's processes as the host sees them: a fork server's children, the child each run got."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronoflow.sandbox import FunctionLimits, SandboxRunner
from chronoflow.sandbox.runner import _Child


def children(pid: int) -> set[int]:
    """The pids of ``pid``'s children, from ``/proc`` (exited ones not yet reaped included)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``condition()``'s first true value, looked for every 10 ms; fails the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {condition}")
        time.sleep(0.01)


def wait_exited(pid: int, timeout: float = 5.0) -> None:
    """Block until ``pid`` has exited (it may stay a zombie of its parent)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        assert select.select([pidfd], [], [], timeout)[0], f"process {pid} did not exit"
    finally:
        os.close(pidfd)


class WatchedRunner(SandboxRunner):
    """A real runner that notes each child the fork server handed out: ``(pid, was it a spare)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed: list[tuple[int, bool]] = []

    def _spawn(self, limits: FunctionLimits) -> _Child:
        child = super()._spawn(limits)
        self.handed.append((child.pid, child.spare))
        return child

    @property
    def server_pid(self) -> int:
        """The fork server's pid (started by now)."""
        assert self._server is not None
        return self._server.process.pid

    def spares(self) -> set[int]:
        """The fork server's live children that no run was handed: its spares."""
        handed = {pid for pid, _ in self.handed}
        return {pid for pid in children(self.server_pid) if pid not in handed and alive(pid)}
