"""The target interface: what one run of a chrono does, and how its fields are validated.

Each target type is one module in this package with one :class:`Target` subclass. Targets check
their own fields at create/update time (:meth:`Target.validate`, raising
:class:`~chronoflow.errors.InvalidInput`), and execute a claimed run
(:meth:`Target.execute`). A worker owns the targets' lifecycle: it calls :meth:`Target.start` on
each once at start, before any run, and :meth:`Target.close` once when it stops; a target keeps
what it shares between runs (clients, a sandbox runner) on itself. Retries are not theirs: the worker retries a result whose
``retryable`` is true, with the shared backoff of ``JOB_ATTEMPTS``/``JOB_BACKOFF_MS``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from chronoflow.store.models import RunStatus

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.config import Settings
    from chronoflow.scheduling.jobs import JobStore
    from chronoflow.store.engine import Database
    from chronoflow.store.models import Chrono, ChronoRun


@dataclass
class TargetResult:
    """The outcome of one execution, stored on the run."""

    status: RunStatus
    error_message: str | None = None
    http_status: int | None = None
    response_snippet: str | None = None
    result: Any = None
    logs: list[Any] | None = None
    function_version: int | None = None
    retryable: bool = False
    """True for failures worth another attempt (a 5xx, a timeout), false for permanent ones."""

    def run_fields(self) -> dict[str, Any]:
        return {
            "status": self.status, "error_message": self.error_message, "http_status": self.http_status,
            "response_snippet": self.response_snippet, "result": self.result, "logs": self.logs,
            "function_version": self.function_version,
        }


@dataclass
class ExecutionContext:
    """Long-lived collaborators a worker process shares between runs."""

    settings: Settings
    db: Database
    http: httpx.AsyncClient
    worker_id: str = ""
    """The worker the runs execute in, as its log lines name it."""
    jobs: JobStore | None = None
    """The job store, for a target that moves its own chrono's job (a campaign's send step)."""


class Target(ABC):
    """One kind of target."""

    fields: ClassVar[frozenset[str]]
    """The chrono fields (camelCase) this target reads; a chrono of another type may not carry them.
    ``extras`` belongs to every chrono (template values, a function's input, or the caller's own notes)."""

    validation_reads_rows: ClassVar[bool] = True
    """Whether :meth:`validate` looks rows up (or adds them) in its session. A creation of a target that
    does not is validated without one: opening a session cost a ``POST /chronos`` more than the checks."""

    async def start(self, context: ExecutionContext) -> None:
        """Prepare what runs share (clients, a sandbox); called once by the worker before any run.

        The default does nothing: a target without state needs no start.
        """

    async def close(self) -> None:
        """Release what :meth:`start` prepared; called once by a stopping worker. Does nothing by default."""

    @abstractmethod
    async def validate(self, fields: dict[str, Any], session: AsyncSession | None,
                       settings: Settings) -> dict[str, Any]:
        """Check a chrono's target fields and return them as :class:`~chronoflow.store.models.Chrono` attributes.

        Args:
            fields: the chrono's fields as received, camelCase keys, merged with the stored ones on update.
            session: the open transaction of the request, where a target may look up or create rows;
                ``None`` on creation when :attr:`validation_reads_rows` is false.

        Raises:
            InvalidInput: naming the first wrong field.
        """

    @abstractmethod
    async def execute(self, chrono: Chrono, run: ChronoRun, context: ExecutionContext) -> TargetResult:
        """Run the target once for a claimed run. Never raises for a failure of the target itself."""
