"""FUNCTION target: run a user function (``def run(ctx)``) in the sandbox, record what it did.

Checked when the chrono is saved:

- ``functionId`` names an existing function, or ``functionCode`` (with optional
  ``functionLimits``) is checked like an upload to ``/functions`` and creates a new function in
  the request's transaction, so a later validation failure leaves no function behind;
  ``functionLimits`` without ``functionCode`` is refused (change a stored function's limits with
  ``PATCH /functions/{id}``); ``functionCode`` in a chrono's PATCH also creates a new function
  (the old one stays, for the chronos that share it): a new *version* is a ``PATCH /functions/{id}``;
- ``channelId``, when given, names an existing channel: the chrono's messages go through it, else
  through the function's own channel;
- ``extras`` is a JSON object (``ctx.extras``).

A run loads the function (code, version, limits, state), runs it in the worker's sandbox runner
and stores on the run:

- ``status``: ``success``, ``failed`` (user error, ``memory limit exceeded``, crash) or ``timeout``;
- ``result``: the return value (JSON); ``logs``: the ``ctx.log``/``print`` lines;
- ``errorMessage``: the error, then the traceback of the user's frames (``<function>``, no host path);
- ``functionVersion``: the version that ran;
- ``responseSnippet``: a JSON summary ``{"sandboxMs", "httpCount", "messageCount", "messages",
  "optedOut"}`` (``messages`` lists each send as ``{"to", "id"}`` or ``{"to", "error"}``).

``ctx.state`` is saved on the function only after a successful run. Retries: a failed or timed-out
function is **not** retried (it may have sent messages or called APIs already, and the same code
would most likely fail the same way); a run that could not start a sandbox at all
(``SandboxUnavailable``: no user code ran) is retried like any other transient failure. A run on
a worker whose sandbox lacks a layer ``FUNCTION_SANDBOX_REQUIRED_LAYERS`` requires fails at once,
naming the missing layers, and is not retried: the host, not the moment, is at fault.

The target builds the worker's runner (and so its policy) once, in :meth:`FunctionTarget.start`,
and probes its isolation layers there, in a thread, logging them (or the missing required ones)
off the job path: a worker serving only HTTP or MESSAGE chronos does not wait for the probe, and
the first FUNCTION run finds the fork server warm. :meth:`FunctionTarget.close` stops the runner.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from chronoflow.errors import InvalidInput
from chronoflow.functions.checks import checked_channel, checked_code, checked_extras, checked_limits
from chronoflow.functions.runners import shared_runner
from chronoflow.functions.running import FunctionSnapshot, run_function, save_state
from chronoflow.functions.service import new_function
from chronoflow.sandbox import SandboxLayersMissing, SandboxPolicy, SandboxRunner, SandboxUnavailable
from chronoflow.sandbox.layers import probe_and_log
from chronoflow.store.models import Function, RunStatus
from chronoflow.targets.base import ExecutionContext, Target, TargetResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.config import Settings
    from chronoflow.store.models import Chrono, ChronoRun

log = logging.getLogger(__name__)

SANDBOX_PROBE_WAIT_S = 30.0
"""How long a closing target waits for its start-up sandbox probe to finish."""

SUMMARY_CHARS = 16_384
"""Longest run summary kept in ``responseSnippet``; past it the per-message list is dropped."""

_STATUSES = {"success": RunStatus.SUCCESS, "failed": RunStatus.FAILED, "timeout": RunStatus.TIMEOUT}


_FUNCTIONS = Function.__table__
_SNAPSHOT = select(
    _FUNCTIONS.c.id, _FUNCTIONS.c.code, _FUNCTIONS.c.version, _FUNCTIONS.c.limits, _FUNCTIONS.c.state,
    _FUNCTIONS.c.channel_id,
).where(_FUNCTIONS.c.id == bindparam("function_id"))


async def load_snapshot(context: ExecutionContext, function_id: str) -> FunctionSnapshot | None:
    """The function as it is now, read with one SQL statement (this runs once per run: overhead,
    so it is read with :meth:`~chronoflow.store.engine.Database.rows`, off the driver's cursor on SQLite)."""
    rows = await context.db.rows(_SNAPSHOT, {"function_id": function_id})
    if not rows:
        return None
    id_, code, version, limits, state, channel_id = rows[0]
    return FunctionSnapshot(id_, code, version, dict(limits or {}), dict(state or {}), channel_id)


class FunctionTarget(Target):
    """Runs the chrono's function with its ``extras``."""

    fields = frozenset({"functionId", "functionCode", "functionLimits", "channelId"})

    def __init__(self) -> None:
        self.runner: SandboxRunner | None = None
        """The worker's sandbox runner, from :meth:`start` to :meth:`close`."""
        self._probe: threading.Thread | None = None

    async def start(self, context: ExecutionContext) -> None:
        """Build the runner from the worker's settings, then probe and log its layers in a thread."""
        self.runner = SandboxRunner(SandboxPolicy.from_settings(context.settings))
        self._probe = threading.Thread(target=probe_and_log, args=(self.runner, f"worker {context.worker_id}"),
                                       name="chronoflow-sandbox-probe", daemon=True)
        self._probe.start()

    async def close(self) -> None:
        """Stop the runner, once the probe has ended (a short-lived, burst worker still logs its layers)."""
        probe, self._probe = self._probe, None
        if probe is not None:
            await asyncio.to_thread(probe.join, SANDBOX_PROBE_WAIT_S)
        runner, self.runner = self.runner, None
        if runner is not None:
            runner.close()

    async def ready_runner(self) -> SandboxRunner:
        """The worker's runner, its fork server started before the run needs it (campaign rewrites share it)."""
        if self.runner is None:
            raise RuntimeError("the FUNCTION target was not started")
        if not self.runner.ready:
            await asyncio.to_thread(self.runner.start)  # the fork server's start is not the first run's time
        return self.runner

    async def validate(self, fields: dict[str, Any], session: AsyncSession, settings: Settings) -> dict[str, Any]:
        extras = checked_extras(fields.get("extras"))
        channel_id = await checked_channel(session, fields.get("channelId"))
        code = fields.get("functionCode")
        if code is None:
            if fields.get("functionLimits") is not None:
                raise InvalidInput("functionLimits", "is only accepted with functionCode; change a stored "
                                                     "function's limits with PATCH /functions/{id}")
            function_id = fields.get("functionId")
            if not isinstance(function_id, str) or not function_id.strip():
                raise InvalidInput("functionId", "is required for a FUNCTION chrono (or give functionCode)")
            if await session.get(Function, function_id) is None:
                raise InvalidInput("functionId", f"no function with id {function_id!r}")
        else:
            limits = checked_limits(fields.get("functionLimits"), "functionLimits")
            code = await checked_code(code, shared_runner(settings), "functionCode")
            name = fields.get("name")
            function = await new_function(session, name=name.strip() if isinstance(name, str) else "function",
                                          code=code, limits=limits, description=fields.get("description"))
            function_id = function.id
        return {"function_id": function_id, "extras": extras, "channel_id": channel_id}

    async def execute(self, chrono: Chrono, run: ChronoRun, context: ExecutionContext) -> TargetResult:
        snapshot = await load_snapshot(context, chrono.function_id) if chrono.function_id else None
        if snapshot is None:
            return TargetResult(RunStatus.FAILED, error_message="function not found: it was deleted")
        try:
            runner = await self.ready_runner()
            outcome = await run_function(snapshot, extras=chrono.extras, runner=runner, db=context.db,
                                         settings=context.settings, channel_id=chrono.channel_id, http=context.http)
        except SandboxLayersMissing as exc:
            log.error("run %s refused: %s", run.id, exc)
            return TargetResult(RunStatus.FAILED, error_message=f"the function did not run: {exc}",
                                function_version=snapshot.version)
        except SandboxUnavailable as exc:
            log.warning("no sandbox for run %s: %s", run.id, exc)  # the cause may name host paths: log only
            return TargetResult(RunStatus.FAILED, error_message="the function sandbox is unavailable on this worker",
                                function_version=snapshot.version, retryable=True)
        except ValueError as exc:  # stored limits out of today's bounds
            return TargetResult(RunStatus.FAILED, error_message=f"the function cannot run: {exc}",
                                function_version=snapshot.version)
        result = outcome.sandbox
        if result.ok and result.state is not None and result.state != snapshot.state:
            await save_state(context.db, snapshot.id, result.state)
        summary = outcome.summary()
        text = json.dumps(summary, separators=(",", ":"))
        if len(text) > SUMMARY_CHARS:
            text = json.dumps({**summary, "messages": [], "optedOut": []}, separators=(",", ":"))
        return TargetResult(
            _STATUSES[result.status.value], error_message=outcome.error_message(), result=result.result,
            logs=list(result.logs), response_snippet=text, function_version=snapshot.version,
        )
