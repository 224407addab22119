"""The rewrite hook: a user function turns a row's rendered text into the text that is sent.

The function runs in the sandbox like any FUNCTION run (:func:`chronoflow.functions.running.run_function`),
with ``ctx.extras`` holding ``text`` (the rendered message), ``contact`` (``phone``, ``name``,
``attributes``) and ``campaignId``; it returns the text to send, e.g. after asking a language
model through ``ctx.http``. Its ``ctx.state`` is saved after a successful run, as for a chrono.

A function that fails (an error, a timeout, a return value that is not non-empty text) fails that
one row with the function's error: the campaign goes on with the next contact. The runner is the
worker's (the FUNCTION target's), or else this process's shared one
(:func:`chronoflow.functions.runners.shared_runner`), e.g. for a step run outside a worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from chronoflow.functions.runners import shared_runner
from chronoflow.functions.running import run_function, save_state
from chronoflow.store.models import Contact
from chronoflow.targets.function import load_snapshot

if TYPE_CHECKING:
    from chronoflow.sandbox import SandboxRunner
    from chronoflow.targets.base import ExecutionContext

Sandbox = Callable[[], Awaitable["SandboxRunner"]]
"""Gives a started sandbox runner."""

MAX_REWRITTEN_CHARS = 4096
"""Longest text a rewrite may return: the longest template."""


@dataclass(frozen=True)
class Rewritten:
    """The text to send, or why there is none (the row's error)."""

    text: str | None
    error: str | None = None


async def _contact(ctx: ExecutionContext, contact_id: str | None, phone: str) -> dict[str, Any]:
    async with ctx.db.session() as session:
        row = (await session.execute(select(Contact.name, Contact.attributes).where(Contact.id == contact_id))).first()
    name, attributes = (row[0], dict(row[1] or {})) if row is not None else (None, {})
    return {"phone": phone, "name": name, "attributes": attributes}


async def rewrite(ctx: ExecutionContext, campaign_id: str, function_id: str, row: dict[str, Any],
                  sandbox: Sandbox | None = None) -> Rewritten:
    """Run the campaign's rewrite function on one claimed row.

    Raises:
        SandboxUnavailable, SandboxLayersMissing: no sandbox on this worker (no user code ran); the
            caller puts the row back, since the worker, not the contact, is at fault.
    """
    function = await load_snapshot(ctx, function_id)
    if function is None:
        return Rewritten(None, "rewrite function: it was deleted")
    extras = {"text": row["text"] or "", "contact": await _contact(ctx, row["contact_id"], row["phone"]),
              "campaignId": campaign_id}
    runner = await sandbox() if sandbox is not None else shared_runner(ctx.settings)
    try:
        outcome = await run_function(function, extras=extras, runner=runner, db=ctx.db,
                                     settings=ctx.settings, http=ctx.http)
    except ValueError as exc:  # its stored limits are out of today's bounds
        return Rewritten(None, f"rewrite function cannot run: {exc}")
    result = outcome.sandbox
    if not result.ok:
        return Rewritten(None, f"rewrite function: {outcome.error_message()}")
    if result.state is not None and result.state != function.state:
        await save_state(ctx.db, function.id, result.state)
    text = result.result
    if not isinstance(text, str) or not text.strip():
        return Rewritten(None, f"rewrite function returned {type(text).__name__}, not the text to send")
    if len(text) > MAX_REWRITTEN_CHARS:
        return Rewritten(None, f"rewrite function returned {len(text)} characters (at most {MAX_REWRITTEN_CHARS})")
    return Rewritten(text)


__all__ = ["Rewritten", "Sandbox", "rewrite"]
