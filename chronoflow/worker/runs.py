"""Run records: claiming an occurrence, finishing it, recording missed ones, reaping lost ones.

The claim is an INSERT guarded by the unique key ``(chronoId, scheduledFor, attempt)``: whichever
worker inserts first owns the occurrence, a duplicate delivery finds the row and does nothing
(invariant 2). A manual run's row is created by the API, and claimed by setting ``startedAt``.
A scheduled occurrence taken later than its chrono's misfire grace is claimed as ``missed``
instead of ``running``, so overdue work is recorded rather than run (invariant 6); one due while
the chrono's previous run still runs follows the chrono's overlap policy (``skipped``, run
anyway, or :class:`MustWait`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.scheduling.jobs import Coalesced, iso
from chronoflow.store.engine import Database, select_rows, utcnow
from chronoflow.store.models import Chrono, ChronoRun, OverlapPolicy, RunStatus, RunTrigger, filled, new_id

T = TypeVar("T")

CHRONOS = Chrono.__table__
RUNS = ChronoRun.__table__

# The statements of the per-run hot path, built once: building and cache-keying a statement
# per call costs more than running it against SQLite.
# The chrono is read under lock (see :meth:`Database.writing`): a transaction that activated it and
# wrote its job may not have committed yet when the job arrives.
_SELECT_CHRONO = select(CHRONOS).where(CHRONOS.c.id == bindparam("chrono_id")).with_for_update()
_CHRONO_KEYS = tuple(column.key for column in _SELECT_CHRONO.selected_columns)
_CLAIMED = select(exists().where(
    RUNS.c.chrono_id == bindparam("chrono_id"), RUNS.c.scheduled_for == bindparam("scheduled_for"),
    RUNS.c.attempt == bindparam("attempt"),
))
"""Whether a delivery of the same occurrence already claimed it, read once the chrono is locked.

A duplicate delivery must not reach the run's INSERT: on PostgreSQL it would wait, holding the
chrono's lock, for the transaction finishing the first delivery's run, which waits in turn for
that lock (the run-finished trigger updates the chrono): a deadlock, and a run left ``running``.
It is a statement of its own, after the lock: PostgreSQL reads a statement's subqueries as of the
statement's start, so a check inside the locking SELECT could miss a claim committed while that
SELECT waited for the lock."""
_RUNNING_OCCURRENCE = select(RUNS.c.scheduled_for).where(
    RUNS.c.chrono_id == bindparam("chrono_id"), RUNS.c.status == RunStatus.RUNNING,
    RUNS.c.started_at.is_not(None), RUNS.c.scheduled_for != bindparam("scheduled_for"),
).limit(1)
_INSERT_RUN = insert(RUNS)
_UPDATE_RUN = update(RUNS).where(RUNS.c.id == bindparam("run_id"))


MAX_MISSED_RECORDED = 100
"""Missed occurrences recorded one row each after downtime; older ones are only counted."""


@dataclass
class Claim:
    """An occurrence this worker owns: the run row and the chrono as it was when claimed.

    ``run.status`` is ``running`` when the target is to be executed; any other status means the
    occurrence was recorded at claim time (``missed``, ``skipped``) and must not run.
    """

    run: ChronoRun
    chrono: Chrono

    @property
    def runnable(self) -> bool:
        return self.run.status == RunStatus.RUNNING


@dataclass(frozen=True)
class MustWait:
    """Not claimed: the chrono's previous run still runs and its policy lets this occurrence wait."""

    running_for: datetime
    """The occurrence of the run still in progress."""


def lateness_note(chrono: Chrono, scheduled_for: datetime, now: datetime) -> str | None:
    """Why a scheduled occurrence taken at ``now`` must not run, or None when it is on time."""
    late = (now - scheduled_for).total_seconds()
    if late <= chrono.misfire_grace_seconds:
        return None
    return (f"missed: a worker took it {late:.1f} s after its time, beyond the misfire grace of "
            f"{chrono.misfire_grace_seconds} s")


class Writer(Protocol):
    """Where run rows are written: a :class:`Database`, or a worker's :class:`WriteBatcher` over one."""

    async def write(self, work: Callable[[Connection], T]) -> T: ...


async def claim_occurrence(
    db: Writer,
    chrono_id: str,
    scheduled_for: datetime,
    trigger: RunTrigger,
    attempt: int,
    worker: str,
    *,
    next_run_at: datetime | None = None,
    run_id: str | None = None,
    may_wait: Callable[[Chrono], bool] = lambda _chrono: True,
    waiting: Callable[[Chrono], datetime | None] = lambda _chrono: None,
) -> Claim | MustWait | None:
    """Claim one attempt of one occurrence; None when it is not ours to run.

    ``may_wait`` is asked only for a ``buffer-one`` chrono whose previous run still runs: True
    returns :class:`MustWait` (nothing written), False records the occurrence ``skipped``.
    ``waiting`` is asked for a ``buffer-one`` chrono when nothing runs: an earlier occurrence still
    holding the chrono's waiting place (it looks again every half second) goes first, and this one
    is recorded ``skipped``, as one due while that occurrence ran would be.

    Not ours: the chrono is gone, a scheduled occurrence of a paused chrono, or another delivery
    of the same job claimed it first. A scheduled claim also moves ``nextRunAt`` forward and
    deactivates a one-shot chrono, in the same transaction. Written with SQL expressions rather
    than the ORM unit of work: this runs once per occurrence and its cost is the worker's overhead.
    """
    try:
        return await db.write(partial(_claim, chrono_id=chrono_id, scheduled_for=scheduled_for, trigger=trigger,
                                      attempt=attempt, worker=worker, next_run_at=next_run_at, run_id=run_id,
                                      may_wait=may_wait, waiting=waiting))
    except IntegrityError:
        return None


def _claim(
    conn: Connection, *, chrono_id: str, scheduled_for: datetime, trigger: RunTrigger, attempt: int, worker: str,
    next_run_at: datetime | None, run_id: str | None, may_wait: Callable[[Chrono], bool],
    waiting: Callable[[Chrono], datetime | None],
) -> Claim | MustWait | None:
    """:func:`claim_occurrence`'s statements, in the caller's write transaction."""
    rows = select_rows(conn, _SELECT_CHRONO, {"chrono_id": chrono_id})
    now = utcnow()  # after the lock, which may have waited for a writer
    if not rows:
        return None
    occurrence = {"chrono_id": chrono_id, "scheduled_for": scheduled_for, "attempt": attempt}
    if run_id is None and select_rows(conn, _CLAIMED, occurrence)[0][0]:
        return None
    chrono = filled(Chrono, dict(zip(_CHRONO_KEYS, rows[0], strict=True)))
    if run_id is not None:
        claimed = conn.execute(
            update(RUNS).where(RUNS.c.id == run_id, RUNS.c.started_at.is_(None)).values(started_at=now, worker=worker)
        )
        if claimed.rowcount != 1:
            return None
        stored = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().one()
        return Claim(run=filled(ChronoRun, stored), chrono=chrono)
    if trigger == RunTrigger.SCHEDULE:
        if not chrono.is_active:
            return None
        if not chrono.is_recurring:  # a recurring chrono's nextRunAt moves when the run finishes
            conn.execute(update(CHRONOS).where(CHRONOS.c.id == chrono_id).values(is_active=False, next_run_at=None))
    elif chrono.is_recurring and not chrono.is_active:
        return None  # a retry of a paused recurring chrono
    advance = trigger == RunTrigger.SCHEDULE and chrono.is_recurring
    values = {
        "id": new_id(), "chrono_id": chrono_id, "scheduled_for": scheduled_for, "attempt": attempt,
        "trigger": trigger, "status": RunStatus.RUNNING, "started_at": now, "worker": worker,
        "created_at": now, "advances_to": next_run_at if advance else None,
    }
    note = lateness_note(chrono, scheduled_for, now) if trigger == RunTrigger.SCHEDULE else None
    status = RunStatus.MISSED
    if note is None and advance and chrono.overlap_policy != OverlapPolicy.ALLOW:
        busy = _running_occurrence(conn, chrono_id, scheduled_for)
        if busy is not None:
            if chrono.overlap_policy == OverlapPolicy.BUFFER_ONE and may_wait(chrono):
                return MustWait(busy)
            status = RunStatus.SKIPPED
            note = (f"skipped: the run of {busy.isoformat()} was still running "
                    f"(overlapPolicy {chrono.overlap_policy})")
        elif chrono.overlap_policy == OverlapPolicy.BUFFER_ONE and (earlier := waiting(chrono)) is not None:
            status = RunStatus.SKIPPED
            note = (f"skipped: the occurrence of {earlier.isoformat()} was waiting to run "
                    f"(overlapPolicy {chrono.overlap_policy})")
    conn.execute(_INSERT_RUN, values)
    if note is not None:
        # Leaving ``running`` in the same transaction lets the 0003 trigger move nextRunAt on.
        recorded = {"status": status, "finished_at": now, "duration_ms": 0, "error_message": note}
        conn.execute(_UPDATE_RUN, {"run_id": values["id"], **recorded})
        values.update(recorded)
    return Claim(run=filled(ChronoRun, values), chrono=chrono)


def _running_occurrence(conn: Connection, chrono_id: str, scheduled_for: datetime) -> datetime | None:
    """The occurrence of another run of this chrono that a worker is executing, if any."""
    rows = select_rows(conn, _RUNNING_OCCURRENCE, {"chrono_id": chrono_id, "scheduled_for": scheduled_for})
    return rows[0][0] if rows else None


async def finish_run(db: Writer, claim: Claim, fields: dict[str, Any]) -> ChronoRun:
    """Store a run's outcome.

    The chrono follows inside the database (trigger of migration 0003): ``lastRunAt`` and
    ``lastRunStatus`` take the outcome, and a scheduled run of a recurring chrono moves
    ``nextRunAt`` to its ``advancesTo`` unless an update during the run already set a later one
    (or a pause, none). One statement per run instead of two: this is the worker's hot path.
    """
    run = claim.run
    finished = utcnow()
    started = run.started_at or finished
    values = {**fields, "finished_at": finished,
              "duration_ms": max(0, round((finished - started).total_seconds() * 1000))}
    await db.write(partial(_update_run, run.id, values))
    for key, value in values.items():
        setattr(run, key, value)
    return run


def _update_run(run_id: str, values: dict[str, Any], conn: Connection) -> None:
    conn.execute(_UPDATE_RUN, {"run_id": run_id, **values})


def coalesced_note(folded: Coalesced) -> str:
    """What a run's row says of the occurrences folded into it: how many, and between which due times."""
    return (f"{folded.count} missed occurrence(s) coalesced into this run "
            f"(due from {iso(folded.first)} to {iso(folded.last)})")


def joined_notes(*notes: str | None) -> str:
    return "; ".join(note for note in notes if note)


async def add_coalesced_note(db: Writer, run: ChronoRun, folded: Coalesced) -> None:
    """Say on a run which occurrences were folded into it, after what the row already says (a
    skipped or missed run's reason): without the note they would be accounted for nowhere."""
    message = joined_notes(run.error_message, coalesced_note(folded))
    await db.write(partial(_update_run, run.id, {"error_message": message}))
    run.error_message = message


async def record_missed(db: Database, chrono_id: str, occurrences: Iterable[datetime], total: int) -> int:
    """Record occurrences that passed beyond the misfire grace as ``missed`` runs (invariant 3)."""
    occurrences = list(occurrences)[-MAX_MISSED_RECORDED:]
    recorded = 0
    now = utcnow()
    for index, when in enumerate(occurrences):
        note = "missed: the scheduler was down past the misfire grace"
        if index == 0 and total > len(occurrences):
            note += f" ({total - len(occurrences)} older occurrences were not recorded one by one)"
        try:
            async with db.session() as session:
                if await session.get(Chrono, chrono_id) is None:
                    return recorded
                session.add(ChronoRun(
                    chrono_id=chrono_id, scheduled_for=when, attempt=1, trigger=RunTrigger.SCHEDULE,
                    status=RunStatus.MISSED, finished_at=now, error_message=note,
                ))
            recorded += 1
        except IntegrityError:
            continue  # already recorded by a duplicate delivery
    if recorded:
        async with db.session() as session:
            await session.execute(update(Chrono).where(Chrono.id == chrono_id)
                                  .values(last_run_status=RunStatus.MISSED))
    return recorded


async def reap_lost_runs(db: Database, is_alive: Any) -> int:
    """Fail the running runs of workers that stopped sending heartbeats (invariant 4).

    Args:
        is_alive: callable ``worker name -> bool``.
    """
    async with db.session() as session:
        workers = (await session.scalars(
            select(ChronoRun.worker).where(ChronoRun.status == RunStatus.RUNNING, ChronoRun.worker.is_not(None))
            .distinct()
        )).all()
    dead = [name for name in workers if not is_alive(name)]
    reaped = 0
    now = utcnow()
    for name in dead:
        async with db.session() as session:
            runs = (await session.scalars(
                select(ChronoRun).where(ChronoRun.status == RunStatus.RUNNING, ChronoRun.worker == name)
            )).all()
            for run in runs:
                run.status = RunStatus.FAILED
                run.finished_at = now
                # The target had started: its call may have reached the receiver before the worker died.
                # What the row already said (occurrences coalesced into it) is kept after the reason.
                run.error_message = joined_notes(f"worker lost; the call may have been delivered ({name} stopped "
                                                 "while the run was in progress)", run.error_message)
                if run.started_at:
                    run.duration_ms = round((now - run.started_at).total_seconds() * 1000)
                reaped += 1  # the chrono's lastRunStatus follows by trigger
    return reaped


async def latest_runs(session: AsyncSession, chrono_id: str, skip: int, take: int) -> list[ChronoRun]:
    """A chrono's runs, newest occurrence first."""
    rows = await session.scalars(
        select(ChronoRun).where(ChronoRun.chrono_id == chrono_id)
        .order_by(ChronoRun.scheduled_for.desc(), ChronoRun.attempt.desc()).offset(skip).limit(take)
    )
    return list(rows)


async def count_runs(session: AsyncSession, chrono_id: str) -> int:
    return int(await session.scalar(select(func.count()).where(ChronoRun.chrono_id == chrono_id)) or 0)
