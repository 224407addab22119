"""The core's one entry point to schedules: read a chrono's schedule, compute its fire times.

Parsing is :mod:`chronoflow.nlcron`'s job; this module turns its errors into
:class:`~chronoflow.errors.InvalidInput` naming the request field, and rebuilds a
:class:`~chronoflow.nlcron.Schedule` from what a chrono row or a job stores.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chronoflow.errors import InvalidInput
from chronoflow.nlcron import Schedule, ScheduleError, next_fire_after, parse


def check_timezone(timezone: str, field: str = "timezone") -> str:
    """Return ``timezone`` if it is a known IANA zone, else raise InvalidInput."""
    if not isinstance(timezone, str) or not timezone.strip():
        raise InvalidInput(field, "must be an IANA time zone such as 'America/Sao_Paulo'")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(field, f"unknown time zone {timezone!r}; use an IANA name such as 'America/Sao_Paulo'") from None
    return timezone


def read_schedule(expression: str, timezone: str, now: datetime, field: str = "cron") -> Schedule:
    """Parse ``expression`` in ``timezone``; errors name ``field``."""
    check_timezone(timezone)
    if not expression or not expression.strip():
        raise InvalidInput(field, "must not be empty")
    try:
        return parse(expression, timezone, now)
    except ScheduleError as exc:
        raise InvalidInput(field, exc.message) from None


def stored_schedule(expression: str, cron: str | None, run_at: datetime | None, timezone: str) -> Schedule:
    """The schedule of a stored chrono or job, without parsing the expression again."""
    return Schedule(expression=expression, timezone=timezone, cron=cron, run_at=run_at)


def first_fire_time(schedule: Schedule, now: datetime) -> datetime | None:
    """When a new or resumed chrono fires first: its instant, or the next cron time after ``now``."""
    if schedule.is_recurring:
        return next_fire_after(schedule, now)
    return schedule.run_at


__all__ = ["check_timezone", "first_fire_time", "next_fire_after", "read_schedule", "stored_schedule"]
