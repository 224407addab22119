"""Chrono lifecycle: create, update, pause, resume, delete, trigger — keeping one job per chrono.

Every change validates everything first, then writes the row and the chrono's schedule job in
one step: the Redis write happens inside the database transaction, so a Redis failure rolls the
row back, and a failed commit leaves at most an orphan job that the worker ignores and the
reconciler removes (invariants 1 and 5).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.checks import checked_description, checked_name
from chronoflow.config import MAX_MISFIRE_GRACE_SECONDS, Settings
from chronoflow.errors import Conflict, InvalidInput, TooLarge
from chronoflow.nlcron import Schedule
from chronoflow.nlcron.parser import MAX_EXPRESSION_CHARS
from chronoflow.scheduling.jobs import JobStore, ScheduleSpec
from chronoflow.scheduling.reading import first_fire_time, read_schedule, stored_schedule
from chronoflow.store.batching import WriteBatcher
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import (
    Chrono,
    ChronoRun,
    OverlapPolicy,
    RunStatus,
    RunTrigger,
    TargetType,
    filled,
    new_id,
)
from chronoflow.store.paging import page_with_total, paged, read_page
from chronoflow.targets import get_target, refuse_foreign_fields, target_reads_rows
from chronoflow.targets.http import keep_hidden_values

MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest HTTP ``payload``, serialized as it is sent (compact JSON, UTF-8)."""
MAX_EXTRAS_BYTES = 64 * 1024
"""Largest ``extras`` object, serialized the same way."""
CHRONOS = Chrono.__table__
"""The chronos table, for list statements that read columns rather than chronos."""
CHRONO_COLUMNS = tuple(column.key for column in CHRONOS.columns)
OVERLAP_POLICIES = frozenset(policy.value for policy in OverlapPolicy)
PAST_TOLERANCE = timedelta(seconds=1)
"""A one-shot instant this far in the past is still accepted (clock skew between client and server)."""


def _stored_fields(chrono: Chrono) -> dict[str, Any]:
    """A stored chrono as the camelCase fields an update merges into."""
    return {
        "name": chrono.name, "description": chrono.description, "cron": chrono.cron,
        "timezone": chrono.timezone, "targetType": chrono.target_type, "isActive": chrono.is_active,
        "misfireGraceSeconds": chrono.misfire_grace_seconds, "overlapPolicy": chrono.overlap_policy, "url": chrono.url, "method": chrono.method,
        "headers": chrono.headers, "payload": chrono.payload, "signingSecret": chrono.signing_secret,
        "channelId": chrono.channel_id, "messageTemplate": chrono.message_template,
        "recipients": chrono.recipients, "functionId": chrono.function_id, "extras": chrono.extras,
    }


def _check_json_size(fields: dict[str, Any], field: str, limit: int) -> None:
    """Refuse a JSON field bigger than ``limit`` bytes serialized (413 naming the field)."""
    value = fields.get(field)
    if value is None:
        return
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError):
        raise InvalidInput(field, "must be strict JSON") from None
    if size > limit:
        raise TooLarge(field, f"is {size} bytes serialized; at most {limit} are accepted")


def schedule_spec(chrono: Chrono, due: datetime) -> ScheduleSpec:
    return ScheduleSpec(
        chrono_id=chrono.id, due=due, expression=chrono.cron, cron=chrono.schedule_cron, run_at=chrono.run_at,
        timezone=chrono.timezone, misfire_grace_seconds=chrono.misfire_grace_seconds,
    )


def chrono_schedule(chrono: Chrono) -> Schedule:
    return stored_schedule(chrono.cron, chrono.schedule_cron, chrono.run_at, chrono.timezone)


class ChronoService:
    """The chrono operations the API exposes."""

    def __init__(self, db: Database, jobs: JobStore, settings: Settings) -> None:
        self.db = db
        self.jobs = jobs
        self.settings = settings
        self.creations = WriteBatcher(db, before_commit=self._write_created)
        """New chronos arriving together are written in one transaction (group commit)."""

    # --- validation ---------------------------------------------------------------------------
    async def _validated(self, fields: dict[str, Any], session: AsyncSession | None,
                         now: datetime) -> dict[str, Any]:
        """All fields checked; returns Chrono attributes. Raises InvalidInput naming the field."""
        name = checked_name(fields.get("name"))
        description = checked_description(fields.get("description"))
        timezone = fields.get("timezone") or self.settings.default_timezone
        cron = fields.get("cron")
        if not isinstance(cron, str):
            raise InvalidInput("cron", "is required: a cron expression, an ISO date-time or a phrase like 'every day at 9'")
        if len(cron) > MAX_EXPRESSION_CHARS:
            raise InvalidInput("cron", f"must be at most {MAX_EXPRESSION_CHARS} characters")
        schedule = read_schedule(cron, timezone, now)
        if not schedule.is_recurring and schedule.run_at is not None and schedule.run_at < now - PAST_TOLERANCE:
            raise InvalidInput("cron", f"the one-shot time {schedule.run_at.isoformat()} is in the past")
        grace = fields.get("misfireGraceSeconds")
        if grace is None:
            grace = self.settings.misfire_grace_seconds
        if type(grace) is not int or not 0 <= grace <= MAX_MISFIRE_GRACE_SECONDS:
            raise InvalidInput("misfireGraceSeconds", f"must be an integer from 0 to {MAX_MISFIRE_GRACE_SECONDS}")
        overlap = fields.get("overlapPolicy") or OverlapPolicy.SKIP.value
        if overlap not in OVERLAP_POLICIES:
            raise InvalidInput("overlapPolicy", "must be one of " + ", ".join(policy.value for policy in OverlapPolicy))
        is_active = fields.get("isActive", True)
        if type(is_active) is not bool:
            raise InvalidInput("isActive", "must be true or false")
        _check_json_size(fields, "payload", MAX_PAYLOAD_BYTES)
        _check_json_size(fields, "extras", MAX_EXTRAS_BYTES)
        target_type = fields.get("targetType")
        target = get_target(target_type)
        target_values = await target.validate(fields, session, self.settings)
        return {
            "name": name, "description": description, "cron": cron.strip(),
            "timezone": timezone, "target_type": target_type, "is_active": is_active,
            "is_recurring": schedule.is_recurring, "schedule_cron": schedule.cron, "run_at": schedule.run_at,
            "misfire_grace_seconds": grace, "overlap_policy": overlap, "extras": fields.get("extras"), **target_values,
        }

    # --- scheduling ---------------------------------------------------------------------------
    async def _sync_job(self, session: AsyncSession, chrono: Chrono, now: datetime) -> None:
        """Make the chrono's schedule job match its row: one job when active, none otherwise.

        The row is written first, so the transaction holds it (the row's lock on PostgreSQL, the
        write lock on SQLite) from before the job exists until it commits: whoever reads the row
        under lock on seeing the job (a worker's claim, the reconciler) waits for the commit.
        """
        due = first_fire_time(chrono_schedule(chrono), now) if chrono.is_active else None
        chrono.next_run_at = due
        await session.flush()
        if due is None:
            await asyncio.to_thread(self.jobs.remove_schedule, chrono.id)
        else:
            await asyncio.to_thread(self.jobs.put_schedule, schedule_spec(chrono, due))

    # --- operations ---------------------------------------------------------------------------
    async def create(self, fields: dict[str, Any]) -> Chrono:
        """Validate, then write the row and its schedule job in a transaction shared with the
        creations arriving at the same time: SQLite's one write lock is taken once for all of them.

        Raises:
            Conflict: the function or channel it names was deleted after it was checked.
        """
        now = utcnow()
        if target_reads_rows(fields.get("targetType")):
            async with self.db.session() as session:
                values = await self._validated(fields, session, now)
        else:
            values = await self._validated(fields, None, now)
        refuse_foreign_fields(fields, values["target_type"])
        created = _new_chrono(values, now)
        try:
            _, chrono = await self.creations.write(lambda _conn: created)
            return chrono
        except IntegrityError:
            raise Conflict("the function or channel this chrono names was deleted while it was being created",
                           field="functionId" if values.get("function_id") else "channelId") from None

    def _write_created(self, conn: Connection, created: list[tuple[dict[str, Any], Chrono]]) -> None:
        """The rows of a batch of new chronos in one statement, then their schedule jobs in one round trip,
        in the batch's transaction (rows first: see :meth:`_sync_job`)."""
        conn.execute(insert(CHRONOS), [row for row, _ in created])
        with self.jobs.redis.pipeline() as pipe:
            for _, chrono in created:
                if chrono.next_run_at is not None:
                    self.jobs.put_schedule(schedule_spec(chrono, chrono.next_run_at), pipeline=pipe)
            pipe.execute()

    async def get(self, chrono_id: str) -> Chrono:
        async with self.db.session() as session:
            return await get_or_404(session, Chrono, chrono_id, "chrono")

    @staticmethod
    async def _get_own(session: AsyncSession, chrono_id: str) -> Chrono:
        """A chrono this service may change: a campaign's chrono is driven by its campaign only."""
        chrono = await get_or_404(session, Chrono, chrono_id, "chrono")
        if chrono.target_type == TargetType.CAMPAIGN:
            raise Conflict("this chrono sends a campaign: pause, resume or cancel the campaign instead")
        return chrono

    async def list(self, skip: int, take: int, target_type: str | None, is_active: bool | None,
                   search: str | None = None) -> tuple[list[Chrono], int]:
        """A page of chronos, newest first, and their total; ``search`` keeps those whose name contains it (any case)."""
        page, count, parameters = _list_query((Chrono,), skip, take, target_type, is_active, search)
        async with self.db.session() as session:
            rows, total = await session.run_sync(page_with_total, page, count, parameters)
        return [row[0] for row in rows], total

    async def list_rows(self, columns: Sequence[str], skip: int, take: int, target_type: str | None,
                        is_active: bool | None, search: str | None = None) -> tuple[list[Any], int]:
        """:meth:`list`, reading only ``columns``: rows with those attributes (and the total last), not chronos.

        A list does not show every column, and building whole ORM objects costs more than the query;
        plain rows are read in one go (:meth:`Database.rows`).
        """
        page, count, parameters = _list_query(_columns(tuple(columns)), skip, take, target_type, is_active,
                                              search)
        return await read_page(self.db, page, count, parameters)

    async def update(self, chrono_id: str, changes: dict[str, Any]) -> Chrono:
        now = utcnow()
        async with self.db.session(write=True) as session:
            chrono = await self._get_own(session, chrono_id)
            merged = {**_stored_fields(chrono), **changes}
            if "headers" in changes:  # a hidden header sent back as "***" keeps its stored value
                merged["headers"] = keep_hidden_values(changes["headers"], chrono.headers)
            values = await self._validated(merged, session, now)
            refuse_foreign_fields(changes, values["target_type"])
            reschedule = any(values[k] != getattr(chrono, k) for k in
                             ("cron", "timezone", "is_active", "schedule_cron", "run_at", "misfire_grace_seconds"))
            for key, value in values.items():
                setattr(chrono, key, value)
            chrono.updated_at = now
            if reschedule:
                await self._sync_job(session, chrono, now)
        return chrono

    async def pause(self, chrono_id: str) -> Chrono:
        return await self._set_active(chrono_id, False)

    async def resume(self, chrono_id: str) -> Chrono:
        return await self._set_active(chrono_id, True)

    async def _set_active(self, chrono_id: str, active: bool) -> Chrono:
        now = utcnow()
        async with self.db.session(write=True) as session:
            chrono = await self._get_own(session, chrono_id)
            if active and not chrono.is_recurring and (chrono.run_at is None or chrono.run_at < now):
                raise Conflict("this one-shot chrono's time has passed; PATCH a new cron to schedule it again")
            chrono.is_active = active
            chrono.updated_at = now
            await self._sync_job(session, chrono, now)
        return chrono

    async def delete(self, chrono_id: str) -> None:
        async with self.db.session(write=True) as session:
            chrono = await self._get_own(session, chrono_id)
            await session.delete(chrono)
            await asyncio.to_thread(self.jobs.remove_schedule, chrono_id)

    async def trigger(self, chrono_id: str) -> ChronoRun:
        """Queue a manual run now; the schedule is left as it is (invariant 1)."""
        now = utcnow()
        async with self.db.session(write=True) as session:
            await self._get_own(session, chrono_id)
            run = ChronoRun(chrono_id=chrono_id, scheduled_for=now, attempt=1, trigger=RunTrigger.MANUAL,
                            status=RunStatus.RUNNING)
            session.add(run)
        try:
            await asyncio.to_thread(self.jobs.enqueue_manual, chrono_id, run.id, now)
        except Exception as exc:
            async with self.db.session() as session:
                stored = await session.get(ChronoRun, run.id)
                if stored is not None:
                    stored.status = RunStatus.FAILED
                    stored.finished_at = utcnow()
                    stored.error_message = f"could not queue the run: {exc}"
            raise
        return run


def _new_chrono(values: dict[str, Any], now: datetime) -> tuple[dict[str, Any], Chrono]:
    """A new chrono's row, every column set (its id and first due time too), and the chrono it makes.

    The batch writes the rows with one Core ``INSERT`` (the ORM's flush of a batch cost more than
    the statement), and the chrono is filled as the ORM fills one it loads, straight into the
    object's attributes: building it through its constructor's per-attribute events cost ten times
    as much. It is built by the request rather than by the batch, which is the one writer. The id is
    fixed here, so a batch written again one by one puts the same schedule job.
    """
    schedule = stored_schedule(values["cron"], values["schedule_cron"], values["run_at"], values["timezone"])
    row = dict.fromkeys(CHRONO_COLUMNS)
    row.update(values, id=new_id(), created_at=now, updated_at=now,
               next_run_at=first_fire_time(schedule, now) if values["is_active"] else None)
    return row, filled(Chrono, row)


@lru_cache(maxsize=64)
def _columns(names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(CHRONOS.c[name] for name in names)


@lru_cache(maxsize=64)
def _list_statements(columns: tuple[Any, ...], search: bool, by_type: bool,
                     by_state: bool) -> tuple[Select[Any], Select[Any]]:
    """A list's page statement, newest first (ties by id, both descending: ix_chronos_created serves
    it read backwards), and its count, for each filter used; values come as parameters
    (:func:`_list_query`). Built once: building and keying a statement cost more than running it.

    On the table's columns, not the mapped attributes: a statement without ORM entities skips the
    ORM's per-row loading.
    """
    c = CHRONOS.c
    conditions: list[Any] = []
    if search:
        conditions.append(func.lower(c.name).like(bindparam("pattern"), escape="\\"))
    if by_type:
        conditions.append(c.target_type == bindparam("target_type"))
    if by_state:
        conditions.append(c.is_active == bindparam("is_active"))
    query = select(*columns).where(*conditions).order_by(c.created_at.desc(), c.id.desc())
    count = select(func.count()).select_from(CHRONOS).where(*conditions)
    return paged(query, count), count


def _list_query(columns: tuple[Any, ...], skip: int, take: int, target_type: str | None,
                is_active: bool | None, search: str | None) -> tuple[Select[Any], Select[Any], dict[str, Any]]:
    """A list's page statement and count (:func:`_list_statements`), and the values of their parameters."""
    page, count = _list_statements(columns, bool(search), target_type is not None, is_active is not None)
    parameters: dict[str, Any] = {"skip": skip, "take": take}
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parameters["pattern"] = f"%{escaped}%"
    if target_type is not None:
        parameters["target_type"] = target_type
    if is_active is not None:
        parameters["is_active"] = is_active
    return page, count, parameters


__all__ = ["ChronoService", "chrono_schedule", "schedule_spec"]
