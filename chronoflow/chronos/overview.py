"""Figures about all chronos at once: what the console's overview shows.

Each is an indexed query (grouped counts, or a short ordered page) over the run indexes of
migration 0008, so the overview stays fast with tens of thousands of chronos and runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from chronoflow.store.engine import Database, utcnow
from chronoflow.store.models import Chrono, ChronoRun, RunStatus

FAILED_STATUSES = (RunStatus.FAILED, RunStatus.TIMEOUT)
"""Run statuses that count as failures."""


@dataclass(frozen=True)
class Failure:
    """One failed run, with the name of its chrono."""

    run_id: str
    chrono_id: str
    chrono_name: str
    status: str
    at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Overview:
    chronos: dict[tuple[str, bool], int]
    """(target type, active) -> number of chronos."""
    runs_by_status: dict[str, int]
    """Runs scheduled in the window, by status."""
    next_fires: list[Chrono]
    failures: list[Failure]


async def overview(db: Database, window: timedelta = timedelta(hours=24), take: int = 10) -> Overview:
    """Counts of chronos, runs of the last ``window`` by status, the next ``take`` fires and failures."""
    since = utcnow() - window
    async with db.session() as session:
        counted = await session.execute(
            select(Chrono.target_type, Chrono.is_active, func.count()).group_by(Chrono.target_type, Chrono.is_active))
        # Counted status by status, in one statement: each count is one range of (status,
        # scheduled_for) holding only the window's runs, where a grouped count walked every run kept.
        statuses = [status.value for status in RunStatus]
        counts = (await session.execute(select(*[
            select(func.count()).select_from(ChronoRun)
            .where(ChronoRun.status == status, ChronoRun.scheduled_for >= since).scalar_subquery()
            for status in statuses]))).one()
        runs_by_status = {status: int(n or 0) for status, n in zip(statuses, counts, strict=True)}
        upcoming = await session.scalars(
            select(Chrono).where(Chrono.is_active.is_(True), Chrono.next_run_at.is_not(None))
            .order_by(Chrono.next_run_at).limit(take))
        # One short query per failed status, merged here: each reads the newest entries of
        # (status, scheduled_for) and stops, where ``status IN (...)`` sorted every failure ever kept.
        failed: list[tuple[ChronoRun, str]] = []
        for status in FAILED_STATUSES:
            failed.extend((await session.execute(
                select(ChronoRun, Chrono.name).join(Chrono, Chrono.id == ChronoRun.chrono_id)
                .where(ChronoRun.status == status.value)
                .order_by(ChronoRun.scheduled_for.desc()).limit(take))).all())
        failed.sort(key=lambda pair: pair[0].scheduled_for, reverse=True)
        return Overview(
            chronos={(str(kind), bool(active)): int(n) for kind, active, n in counted.all()},
            runs_by_status={status: n for status, n in runs_by_status.items() if n},
            next_fires=list(upcoming),
            failures=[Failure(run.id, run.chrono_id, name, run.status, run.finished_at or run.scheduled_for,
                              run.error_message) for run, name in failed[:take]],
        )


__all__ = ["FAILED_STATUSES", "Failure", "Overview", "overview"]
