"""Executing one occurrence: claim it, run its target, record the run, schedule a retry.

:func:`execute_occurrence` is the RQ job function; jobs name it ``chronoflow.worker.execute_occurrence``
(:data:`chronoflow.scheduling.jobs.RUN_FUNC`), which the package re-exports, so jobs queued by
any version resolve.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from rq.timeouts import JobTimeoutException

from chronoflow.config import Settings
from chronoflow.scheduling.jobs import JOB_TIMEOUT_S, Coalesced, from_iso, iso
from chronoflow.store.engine import utcnow
from chronoflow.store.models import Chrono, OverlapPolicy, RunStatus, RunTrigger, TargetType
from chronoflow.targets import TargetResult, get_target
from chronoflow.worker.runs import (
    Claim,
    MustWait,
    add_coalesced_note,
    claim_occurrence,
    coalesced_note,
    joined_notes,
    finish_run,
    record_missed,
)
from chronoflow.worker.runtime import WorkerRuntime, runtime

log = logging.getLogger(__name__)

BUFFER_MARGIN_S = 30
"""A buffer-one waiting place outlives the chrono's misfire grace by this much if its job is lost."""


def backoff_delay(settings: Settings, attempt: int) -> timedelta:
    """Delay before attempt ``attempt + 1``: ``JOB_BACKOFF_MS`` doubled for each earlier retry."""
    return timedelta(milliseconds=settings.job_backoff_ms * 2 ** (attempt - 1))


async def run_occurrence(
    chrono_id: str,
    scheduled_for: str | None,
    trigger: str = RunTrigger.SCHEDULE,
    attempt: int = 1,
    next_run_at: str | None = None,
    missed: list[str] | None = None,
    missed_total: int = 0,
    coalesced: int = 0,
    run_id: str | None = None,
    coalesced_from: str | None = None,
) -> str | None:
    """One attempt of one occurrence, cancelled after ``JOB_TIMEOUT_S``; the run id, or None if not ours.

    ``coalesced`` occurrences, due from ``coalesced_from`` on, were folded into this one by the
    scheduler (they fell due together, inside the misfire grace).

    Raises:
        JobTimeoutException: the occurrence took longer than ``JOB_TIMEOUT_S``.
    """
    rt = runtime()
    when = from_iso(scheduled_for)
    folded = Coalesced(coalesced, from_iso(coalesced_from) or when, when) if coalesced and when else Coalesced()
    try:
        async with asyncio.timeout(JOB_TIMEOUT_S):
            return await _execute(
                rt, chrono_id, when, RunTrigger(trigger), attempt, from_iso(next_run_at),
                [from_iso(m) for m in missed or []], missed_total, folded, run_id,  # type: ignore[misc]
            )
    except TimeoutError:
        raise JobTimeoutException(f"job exceeded its {JOB_TIMEOUT_S} s timeout") from None


def execute_occurrence(*args: Any, **kwargs: Any) -> str | None:
    """RQ job function: :func:`run_occurrence`, with the same arguments, on the worker runtime's loop.

    ChronoFlow's worker awaits the coroutine itself on its event loop (``execute_occurrence.coroutine``);
    this synchronous form serves any other RQ worker.
    """
    return runtime().loop.run(run_occurrence(*args, **kwargs))


execute_occurrence.coroutine = run_occurrence  # type: ignore[attr-defined]


async def _execute(
    rt: WorkerRuntime, chrono_id: str, scheduled_for: datetime | None, trigger: RunTrigger, attempt: int,
    next_run_at: datetime | None, missed: list[datetime], missed_total: int, coalesced: Coalesced,
    run_id: str | None,
) -> str | None:
    if missed:
        await record_missed(rt.db, chrono_id, missed, missed_total)
    if scheduled_for is None:
        if trigger == RunTrigger.SCHEDULE:  # only stale occurrences: still move nextRunAt on
            await _advance_without_run(rt, chrono_id, next_run_at)
        return None
    claim = await claim_occurrence(rt.run_writes, chrono_id, scheduled_for, trigger, attempt, rt.worker_id,
                                   next_run_at=next_run_at, run_id=run_id,
                                   may_wait=lambda chrono: rt.jobs.hold_buffer(
                                       chrono_id, scheduled_for, chrono.misfire_grace_seconds + BUFFER_MARGIN_S),
                                   waiting=lambda _chrono: _other_waiting(rt, chrono_id, scheduled_for))
    if isinstance(claim, MustWait):  # buffer-one: look again once the previous run may have finished
        await asyncio.to_thread(rt.jobs.schedule_wait, chrono_id, scheduled_for, attempt,
                                next_run_at=iso(next_run_at), coalesced=coalesced.count,
                                coalesced_from=iso(coalesced.first))
        return None
    if claim is None:
        return None
    if claim.chrono.overlap_policy == OverlapPolicy.BUFFER_ONE:
        await asyncio.to_thread(rt.jobs.release_buffer, chrono_id, scheduled_for)
    if trigger == RunTrigger.SCHEDULE:  # later occurrences folded into this one while it waited
        coalesced += await asyncio.to_thread(rt.jobs.take_coalesced, chrono_id)
    if coalesced:  # on the row before the target runs: they stay accounted for if this worker dies
        await add_coalesced_note(rt.run_writes, claim.run, coalesced)
    if not claim.runnable:  # recorded at claim time (overdue, or overlapping): nothing to execute
        return claim.run.id
    result = await _run_target(rt, claim)
    fields = result.run_fields()
    retry_at = None
    if result.retryable and attempt < rt.settings.job_attempts:
        retry_at = utcnow() + backoff_delay(rt.settings, attempt)
        fields["error_message"] = f"{result.error_message}; attempt {attempt + 1} at {retry_at.isoformat()}"
    if coalesced:
        fields["error_message"] = joined_notes(fields.get("error_message"), coalesced_note(coalesced))
    await finish_run(rt.run_writes, claim, fields)
    if retry_at is not None:
        await asyncio.to_thread(rt.jobs.schedule_retry, chrono_id, scheduled_for, attempt + 1, retry_at)
    return claim.run.id


def _other_waiting(rt: WorkerRuntime, chrono_id: str, scheduled_for: datetime) -> datetime | None:
    """An earlier occurrence of the chrono waiting for its previous run, other than this one."""
    held = rt.jobs.buffered(chrono_id)
    return held if held is not None and held < scheduled_for else None


async def _run_target(rt: WorkerRuntime, claim: Claim) -> TargetResult:
    if claim.chrono.target_type == TargetType.FUNCTION:  # each holds a sandbox child: bounded apart
        async with rt.function_slots:
            return await _call_target(rt, claim)
    return await _call_target(rt, claim)


async def _call_target(rt: WorkerRuntime, claim: Claim) -> TargetResult:
    try:
        return await get_target(claim.chrono.target_type).execute(claim.chrono, claim.run, rt.context)
    except Exception as exc:  # a bug in a target must still end the run, not leave it running
        log.exception("target %s crashed on run %s", claim.chrono.target_type, claim.run.id)
        return TargetResult(RunStatus.FAILED, error_message=f"internal error: {exc!r}")


async def _advance_without_run(rt: WorkerRuntime, chrono_id: str, next_run_at: datetime | None) -> None:
    async with rt.db.session() as session:
        chrono = await session.get(Chrono, chrono_id)
        if chrono is not None and chrono.is_active:
            chrono.next_run_at = next_run_at
            if not chrono.is_recurring:
                chrono.is_active = False


__all__ = ["backoff_delay", "execute_occurrence", "run_occurrence"]
