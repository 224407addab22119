"""Entry point: a schedule string in, a ``Schedule`` out.

The string is tried, in order, as an ISO date-time (one-shot), as a raw cron or ``@`` alias, and
finally as natural language in English or Brazilian Portuguese (``grammar``). ISO first because
it is unambiguous and its case matters (``T``/``Z``); raw cron before words because a cron never
reads as a sentence, while the grammar would otherwise have to learn to refuse crons.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from chronoflow.nlcron.cronexpr import compile_cron, looks_like_cron
from chronoflow.nlcron.errors import ScheduleError
from chronoflow.nlcron.fire_times import zone
from chronoflow.nlcron.grammar import read_phrase
from chronoflow.nlcron.schedule import Schedule
from chronoflow.nlcron.suggest import suggest
from chronoflow.nlcron.text import normalize

_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?"
)
"""An ISO 8601 date-time: ``2026-11-22T10:00``, ``2026-11-22 10:00:00.123Z``, ``...+03:00``."""


MAX_EXPRESSION_CHARS = 500
"""Longest schedule string read; a longer one is refused before any parsing."""

LATEST_RUN_AT = datetime(9999, 1, 1, tzinfo=UTC)
"""One-shots must fall before this instant: later ones leave no room for the date arithmetic
(misfire grace, retries) that follows a run."""


def _read_iso(text: str, timezone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("t", "T").replace("z", "Z"))
    except ValueError as exc:
        raise ScheduleError(f'"{text}" is not a valid date and time', text, "2026-12-24T20:00:00Z") from exc
    if moment.tzinfo is None:
        # Without an offset the wall time is read in the schedule's zone (fold 0: the first
        # occurrence of a repeated time, the offset before a skipped one).
        moment = moment.replace(tzinfo=zone(timezone))
    return moment.astimezone(UTC)


def parse(expression: str, timezone: str = "UTC", now: datetime | None = None) -> Schedule:
    """Read a schedule string.

    Args:
        expression: Raw cron (5 fields, or 6 with seconds first), ``@`` alias, ISO date-time or
            a phrase in English or Brazilian Portuguese.
        timezone: IANA zone the wall-clock times in ``expression`` are read in.
        now: Aware instant relative phrases count from (``in 10 min``, ``tomorrow``); defaults
            to the current UTC time. A naive value is taken as UTC.

    Returns:
        The schedule: a normalized cron when recurring, an aware UTC ``run_at`` when one-shot.

    Raises:
        ScheduleError: The string cannot be read, holds an out-of-range value, or ``timezone``
            is not a known IANA zone.
    """
    tz = zone(timezone)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    text = expression.strip() if isinstance(expression, str) else ""
    if not text:
        raise ScheduleError("the schedule is empty", "", "every day at 9")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ScheduleError(
            f"the schedule is {len(text)} characters long; at most {MAX_EXPRESSION_CHARS} are read",
            text[:40],
        )
    try:
        schedule = _read(expression, text, timezone, tz, now)
    except OverflowError:
        # Date arithmetic past year 9999 (or before year 1): the input named such a date.
        raise ScheduleError(f'"{text}" names a date outside the supported range', text) from None
    if schedule.run_at is not None and schedule.run_at >= LATEST_RUN_AT:
        raise ScheduleError(f'"{text}" is too far ahead: one-shots must fall before the year 9999', text)
    return schedule


def _read(expression: str, text: str, timezone: str, tz: ZoneInfo, now: datetime) -> Schedule:
    """The three readings, in the order the module docstring gives."""
    if _ISO_DATETIME.fullmatch(text):
        return Schedule(expression, timezone, None, _read_iso(text, timezone))
    normalized = normalize(text)
    if looks_like_cron(normalized):
        return Schedule(expression, timezone, compile_cron(normalized).text, None)
    cron, run_at = read_phrase(expression, normalized, tz, now, suggest)
    return Schedule(expression, timezone, cron, run_at)
