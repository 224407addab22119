"""Sending windows and quota periods, in the window's own time zone (DST-correct).

A window is a daily time range on some weekdays, e.g. 08:00–20:00 Monday to Friday in
``America/Sao_Paulo``. Instants are compared as local wall-clock times of that zone, so a window
keeps its local hours across a DST change. Quota periods (the day, the hour) are also the zone's:
"200 a day" means per local calendar day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chronoflow.errors import InvalidInput
from chronoflow.scheduling.reading import check_timezone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as a window lists them, Monday first (``datetime.weekday()`` order)."""

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
"""``HH:MM``, 24-hour."""

MAX_DAYS_AHEAD = 8
"""How far :meth:`SendingWindow.next_opening` looks: every weekday comes round within a week."""


def _clock(value: object, field: str) -> time:
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise InvalidInput(field, f"must be a time as HH:MM (24-hour), got {value!r}")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class SendingWindow:
    """When messages may leave: ``start`` ≤ local time < ``end`` on ``days``, in ``timezone``."""

    start: time
    end: time
    days: frozenset[int]
    timezone: str

    @classmethod
    def parse(cls, value: object, default_timezone: str, field: str = "window") -> SendingWindow:
        """A window from its JSON object; InvalidInput naming the sub-field at fault."""
        if not isinstance(value, dict):
            raise InvalidInput(field, "must be an object {start, end, days, timezone}")
        unknown = sorted(set(value) - {"start", "end", "days", "timezone"})
        if unknown:
            raise InvalidInput(f"{field}.{unknown[0]}", "is not a window field (start, end, days, timezone)")
        start = _clock(value.get("start"), f"{field}.start")
        end = _clock(value.get("end"), f"{field}.end")
        if end <= start:
            raise InvalidInput(f"{field}.end", "must be later than start on the same day")
        days = value.get("days", list(DAYS))
        if not isinstance(days, list) or not days:
            raise InvalidInput(f"{field}.days", f"must be a non-empty list of {', '.join(DAYS)}")
        numbers = set()
        for day in days:
            if not isinstance(day, str) or day.lower() not in DAYS:
                raise InvalidInput(f"{field}.days", f"unknown day {day!r}; use {', '.join(DAYS)}")
            numbers.add(DAYS.index(day.lower()))
        timezone = check_timezone(value.get("timezone") or default_timezone, f"{field}.timezone")
        return cls(start, end, frozenset(numbers), timezone)

    @classmethod
    def stored(cls, value: dict[str, Any] | None) -> SendingWindow | None:
        """The window of a stored campaign (already checked), or None when it has none."""
        return None if not value else cls.parse(value, "UTC")

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M"),
                "days": [DAYS[d] for d in sorted(self.days)], "timezone": self.timezone}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_opening(self, at: datetime) -> datetime:
        """``at`` itself when the window is open, else the next instant it opens (UTC)."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for ahead in range(MAX_DAYS_AHEAD):
            day = local.date() + timedelta(days=ahead)
            if day.weekday() not in self.days:
                continue
            opening = datetime.combine(day, self.start, self.zone)
            # A start inside a DST gap does not exist locally; the round trip moves it to the gap's end.
            opening = opening.astimezone(UTC).astimezone(self.zone)
            if opening > local:
                return opening.astimezone(UTC)
        raise AssertionError("a window with at least one day opens within a week")

    def closing(self, at: datetime) -> datetime:
        """When the window open at ``at`` closes (UTC): ``end`` on ``at``'s local day."""
        local = at.astimezone(self.zone)
        return datetime.combine(local.date(), self.end, self.zone).astimezone(UTC)


def period_start(at: datetime, zone: str, hours: int) -> datetime:
    """Start (UTC) of the quota period holding ``at``: its local day (``hours=24``) or its hour (1)."""
    local = at.astimezone(ZoneInfo(zone))
    if hours == 1:
        start = local.replace(minute=0, second=0, microsecond=0)
    else:
        start = datetime.combine(local.date(), time(0), local.tzinfo)
    return start.astimezone(UTC)


def next_period(at: datetime, zone: str, hours: int) -> datetime:
    """Start (UTC) of the quota period after the one holding ``at``."""
    local_zone = ZoneInfo(zone)
    start = period_start(at, zone, hours).astimezone(local_zone)
    if hours == 1:
        return (start.astimezone(UTC) + timedelta(hours=1))
    following = datetime.combine(start.date() + timedelta(days=1), time(0), local_zone)
    return following.astimezone(UTC)


__all__ = ["DAYS", "SendingWindow", "next_period", "period_start"]
