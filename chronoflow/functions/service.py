"""User functions: upload (checked in the sandbox), versions, runs, and state kept between runs.

A function is Python source defining ``def run(ctx)`` (see ``chronoflow/sandbox/README.md`` for
the SDK and the isolation layers). It is checked when it is saved, never when it first runs:

- the code compiles under RestrictedPython in a sandbox child (:meth:`SandboxRunner.check`), so a
  syntax error or a forbidden construct (``_`` names, ``exec``…) is a 422 with its line;
- every ``import`` names one of the sandbox's modules (``json``, ``math``, ``re``, ``datetime``…),
  so ``import os`` is refused at upload instead of failing every run;
- ``limits`` are within :data:`chronoflow.sandbox.policy.LIMIT_BOUNDS`.

Each save of new code or limits bumps ``version``; ``checksum`` is the SHA-256 of the code. A run
records the version it ran, and ``ctx.state`` is written back on the function only after a
successful run (concurrent runs of one function: the last to finish wins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from chronoflow.checks import checked_description, checked_name
from chronoflow.errors import Conflict
from chronoflow.functions.checks import (
    checked_channel,
    checked_code,
    checked_extras,
    checked_limits,
    checked_state,
    checksum,
)
from chronoflow.functions.runners import shared_runner
from chronoflow.functions.running import FunctionOutcome, FunctionSnapshot, run_function, save_state
from chronoflow.store.engine import utcnow
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import Chrono, Function

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.config import Settings
    from chronoflow.sandbox import SandboxRunner
    from chronoflow.store.engine import Database


async def new_function(
    session: AsyncSession, *, name: str, code: str, limits: dict[str, int], description: str | None = None,
    channel_id: str | None = None,
) -> Function:
    """Add an already-checked function to the open transaction (version 1)."""
    function = Function(name=name, description=description, code=code, version=1, checksum=checksum(code),
                        limits=limits, state={}, channel_id=channel_id)
    session.add(function)
    await session.flush()
    return function


class FunctionService:
    """The function operations the API exposes; validates everything, then writes."""

    def __init__(self, db: Database, settings: Settings, runner: SandboxRunner | None = None) -> None:
        self.db = db
        self.settings = settings
        self._runner = runner

    @property
    def runner(self) -> SandboxRunner:
        """The runner given, else the one built for these settings at start (:func:`shared_runner`)."""
        if self._runner is None:
            self._runner = shared_runner(self.settings)
        return self._runner

    async def create(self, fields: dict[str, Any]) -> Function:
        name = checked_name(fields.get("name"))
        description = checked_description(fields.get("description"))
        limits = checked_limits(fields.get("limits"))
        code = await checked_code(fields.get("code"), self.runner)
        async with self.db.session() as session:
            channel_id = await checked_channel(session, fields.get("channelId"))
            return await new_function(session, name=name, code=code, limits=limits, description=description,
                                      channel_id=channel_id)

    async def get(self, function_id: str) -> Function:
        async with self.db.session() as session:
            return await get_or_404(session, Function, function_id, "function")

    async def list(self, skip: int, take: int) -> tuple[list[Function], int]:
        async with self.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(Function))
            rows = await session.scalars(select(Function).order_by(Function.created_at.desc(), Function.id)
                                         .offset(skip).limit(take))
            return list(rows), int(total or 0)

    async def update(self, function_id: str, changes: dict[str, Any]) -> Function:
        """Apply a partial update; new code or limits make a new version."""
        async with self.db.session() as session:
            function = await get_or_404(session, Function, function_id, "function")
            values: dict[str, Any] = {}
            if "name" in changes:
                values["name"] = checked_name(changes["name"])
            if "description" in changes:
                values["description"] = checked_description(changes["description"])
            if "limits" in changes:
                values["limits"] = checked_limits(changes["limits"])
            if "code" in changes:
                values["code"] = await checked_code(changes["code"], self.runner)
            if "channelId" in changes:
                values["channel_id"] = await checked_channel(session, changes["channelId"])
            if "state" in changes:
                values["state"] = checked_state(changes["state"], values.get("limits", function.limits))
            new_version = any(k in values and values[k] != getattr(function, k) for k in ("code", "limits"))
            for key, value in values.items():
                setattr(function, key, value)
            if new_version:
                function.version += 1
                function.checksum = checksum(function.code)
            if values:
                function.updated_at = utcnow()
        return function

    async def delete(self, function_id: str) -> None:
        """Delete a function no chrono uses (409 otherwise: its chronos would fail every run)."""
        async with self.db.session() as session:
            function = await get_or_404(session, Function, function_id, "function")
            used = int(await session.scalar(
                select(func.count()).select_from(Chrono).where(Chrono.function_id == function_id)) or 0)
            if used:
                raise Conflict(f"function {function_id} is used by {used} chrono(s); delete them or point them "
                               "to another function first")
            await session.delete(function)

    async def test(self, function_id: str, extras: object, persist_state: bool) -> FunctionOutcome:
        """Run the function now, without a chrono; the state is saved only when asked and successful."""
        extras = checked_extras(extras)
        function = FunctionSnapshot.of(await self.get(function_id))
        outcome = await run_function(function, extras=extras, runner=self.runner, db=self.db,
                                     settings=self.settings)
        if persist_state and outcome.sandbox.ok and outcome.sandbox.state is not None:
            await save_state(self.db, function.id, outcome.sandbox.state)
        return outcome


__all__ = ["FunctionService", "new_function"]
