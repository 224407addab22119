"""Keeps ``chronoflow dev``'s children running: a child that exits is started again, after a backoff.

A laptop stack should not stop because one part fell over (the worker killed by the OOM killer,
the embedded Redis crashing): the supervisor logs which child exited with which code and starts it
again, waiting longer each time it keeps failing, so a child that cannot start does not spin.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 1.0
"""Wait before the first restart of a child..."""
MAX_BACKOFF_S = 30.0
"""...doubling on each further exit up to this."""
STABLE_AFTER_S = 60.0
"""A child that ran this long before exiting starts again from the first backoff."""
STOP_TIMEOUT_S = 10.0
"""How long children get to stop after SIGTERM before they are killed."""


@dataclass
class _Child:
    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes]
    started: float
    backoff: float = FIRST_BACKOFF_S
    restart_at: float | None = None


class Supervisor:
    """Named child processes, restarted when they exit, stopped together (last started, first stopped)."""

    def __init__(self) -> None:
        self._children: list[_Child] = []

    def add(self, name: str, start: Callable[[], subprocess.Popen[bytes]]) -> None:
        """Start a child now with ``start``, which is called again for each restart."""
        self._children.append(_Child(name, start, start(), time.monotonic()))

    def pids(self) -> dict[str, int]:
        return {child.name: child.process.pid for child in self._children}

    def check(self) -> None:
        """Notice children that exited and restart those whose backoff has passed."""
        now = time.monotonic()
        for child in self._children:
            if child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    continue
                if now - child.started >= STABLE_AFTER_S:
                    child.backoff = FIRST_BACKOFF_S
                log.warning("%s exited with code %s; restarting it in %.0f s", child.name, code, child.backoff)
                child.restart_at = now + child.backoff
                child.backoff = min(child.backoff * 2, MAX_BACKOFF_S)
            elif now >= child.restart_at:
                try:
                    child.process = child.start()
                except Exception:
                    log.exception("%s could not be restarted; trying again in %.0f s", child.name, child.backoff)
                    child.restart_at = now + child.backoff
                    child.backoff = min(child.backoff * 2, MAX_BACKOFF_S)
                    continue
                child.started, child.restart_at = now, None
                log.warning("%s restarted (pid %d)", child.name, child.process.pid)

    def run(self, interval_s: float = 0.5) -> None:
        """Check the children every ``interval_s`` until interrupted (Ctrl-C, or SIGTERM turned into it)."""
        while True:
            time.sleep(interval_s)
            self.check()

    def stop(self) -> None:
        """SIGTERM every child, newest first, and kill those still running after :data:`STOP_TIMEOUT_S`."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in reversed(self._children):
            if child.process.poll() is None:
                child.process.terminate()
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


__all__ = ["Supervisor"]
