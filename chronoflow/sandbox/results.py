"""What a sandbox run produces."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RunStatus(str, enum.Enum):
    """How a run ended; the values are the run statuses stored by the worker."""

    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"


@dataclass
class SandboxResult:
    """The outcome of one run, everything the worker stores on the ``ChronoRun``."""

    status: RunStatus
    """``success``, ``failed`` (error, memory limit, crash) or ``timeout`` (wall or CPU time)."""

    result: Any = None
    """The JSON return value of ``run(ctx)`` (``None`` unless successful)."""

    logs: list[str] = field(default_factory=list)
    """``ctx.log`` and ``print`` lines, capped by ``max_log_bytes``."""

    error: str | None = None
    """Why the run did not succeed, e.g. ``"ZeroDivisionError: division by zero"``."""

    traceback: str | None = None
    """The user's frames only, under the file name ``<function>``; no host paths."""

    duration_ms: int = 0
    """Wall time from fork to the last answer."""

    http_count: int = 0
    """HTTP requests sent (each redirect hop counts)."""

    message_count: int = 0
    """Messages attempted."""

    state: dict[str, Any] | None = None
    """The new ``ctx.state`` to persist: only on success, ``None`` otherwise."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    """One entry per message: ``{"to": digits, "id": ...}`` or ``{"to": digits, "error": ...}``."""

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status is RunStatus.SUCCESS
