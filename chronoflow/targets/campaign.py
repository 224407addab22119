"""CAMPAIGN target: one send step of the campaign that owns the chrono.

Such chronos are created, moved and stopped by ``/campaigns`` only (see
:mod:`chronoflow.campaigns.driving`); ``POST /chronos`` and ``PATCH /chronos`` refuse them. A run
is one step (:func:`chronoflow.campaigns.step.run_step`): at most one message per WORKING
channel, after which the step moves the chrono's single job to the next due time. Its failures
belong to recipient rows, so the run itself is never retried by the worker. A campaign's rewrite
function runs in the FUNCTION target's sandbox runner: one fork server per worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chronoflow.errors import InvalidInput
from chronoflow.targets.base import ExecutionContext, Target, TargetResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.config import Settings
    from chronoflow.sandbox import SandboxRunner
    from chronoflow.store.models import Chrono, ChronoRun


class CampaignTarget(Target):
    """Runs the send step of the campaign whose chrono this is."""

    fields = frozenset()
    validation_reads_rows = False

    def __init__(self, sandbox: Callable[[], Awaitable[SandboxRunner]]) -> None:
        self.sandbox = sandbox
        """Gives the worker's started sandbox runner, for rewrite functions."""

    async def validate(self, fields: dict[str, Any], session: AsyncSession | None,
                       settings: Settings) -> dict[str, Any]:
        raise InvalidInput("targetType", "CAMPAIGN chronos belong to campaigns: create and change them with /campaigns")

    async def execute(self, chrono: Chrono, run: ChronoRun, context: ExecutionContext) -> TargetResult:
        from chronoflow.campaigns.step import run_step  # the campaigns package builds on targets

        return await run_step(chrono, run, context, sandbox=self.sandbox)
