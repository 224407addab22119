"""When a schedule fires: cron matching in wall-clock time, then a careful step to UTC.

Cron fields describe wall-clock times, so candidates are found on *naive local* times (croniter
never sees a time zone) and only then turned into instants. Two days a year that step is not
one-to-one, and the rule depends on whether the cron names particular hours:

* **Fixed hours** (``30 2 * * *``, ``0 9 * * 1-5``): the schedule means "at this time of day".
  A time the clock skips (spring forward) fires once, at the instant the clock jumps past it;
  a time the clock repeats (fall back) fires once, at its first occurrence.
* **Every hour** (hour field ``*``, e.g. ``*/5 * * * *``, ``0 * * * *``): the schedule means
  "this often". Skipped times do not exist and are not made up; repeated times are real,
  distinct instants and each fires, so an interval keeps its rhythm through the change.

The engine is croniter on naive datetimes; croniter instances are cached per thread (they are
stateful and not thread-safe) because ``next_fire_after`` runs after every single run.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]

from chronoflow.nlcron.cronexpr import compile_cron
from chronoflow.nlcron.errors import ScheduleError

if TYPE_CHECKING:
    from chronoflow.nlcron.schedule import Schedule

_MAX_CANDIDATES = 100_000
"""Safety stop for one search; a valid cron finds its next time in a handful of steps."""

_local = threading.local()


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """Load an IANA zone, turning "no such zone" into a ``ScheduleError`` that names it.

    Args:
        name: IANA name such as ``America/Sao_Paulo``.

    Returns:
        The zone.

    Raises:
        ScheduleError: The name is not a known IANA zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ScheduleError(f'unknown time zone "{name}"', str(name), "America/Sao_Paulo") from exc


def _iterator(cron: str) -> croniter:
    cache: dict[str, croniter] | None = getattr(_local, "iterators", None)
    if cache is None:
        cache = _local.iterators = {}
    iterator = cache.get(cron)
    if iterator is None:
        if len(cache) > 1024:
            cache.clear()
        expr = compile_cron(cron)
        iterator = croniter(
            expr.text, datetime(2000, 1, 1), ret_type=datetime, second_at_beginning=expr.has_seconds
        )
        cache[cron] = iterator
    return iterator


def _next_wall(cron: str, start: datetime) -> datetime | None:
    """The first naive local time matching ``cron`` strictly after the naive ``start``."""
    iterator = _iterator(cron)
    iterator.set_current(start, force=True)
    try:
        found: datetime = iterator.get_next(datetime)
    except CroniterBadDateError:
        return None
    return found


def _offset_at(instant: datetime, tz: ZoneInfo) -> timedelta:
    offset = instant.replace(tzinfo=UTC).astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _gap_end(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC instant (naive) of the new offset, between two instants that straddle it."""
    new_offset = _offset_at(after, tz)
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if _offset_at(middle, tz) == new_offset:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0) if after.microsecond else after


def _offsets(wall: datetime, tz: ZoneInfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of a naive local time at its first and second pass (equal when unambiguous)."""
    first = wall.replace(tzinfo=tz).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert first is not None and second is not None
    return first, second


def _instants(wall: datetime, tz: ZoneInfo, every_hour: bool) -> list[datetime]:
    """The naive UTC instants a naive local time stands for, under the rules above."""
    first, second = _offsets(wall, tz)
    if first == second:
        return [wall - first]
    if first > second:  # repeated: the clock went back, the wall time happens twice
        return [wall - first, wall - second] if every_hour else [wall - first]
    if every_hour:  # skipped by the clock: nothing to fire
        return []
    return [_gap_end(wall - second, wall - first, tz)]


def wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The aware UTC instant of a one-off wall-clock time, with the fixed-time DST rule.

    Args:
        wall: Naive local date and time.
        tz: Its zone.

    Returns:
        The first occurrence of a repeated time; for a skipped time, the instant of the jump.
    """
    return _instants(wall, tz, every_hour=False)[0].replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive ones are taken as UTC, as SQLite hands stored UTC times back."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def next_cron_after(cron: str, timezone: str, after: datetime) -> datetime | None:
    """First fire instant of ``cron`` read in ``timezone``, strictly after ``after``.

    The last answer for each cron and zone is kept: the first fire after any instant from the one
    searched from up to (not including) the fire found is that same fire, since nothing fires in
    between. Chronos made on the same schedule, and those that fire together and are scheduled
    again from the same instant, then take one search between them (a search costs about 100 µs).

    Args:
        cron: Normalized cron (five fields, or six with seconds first).
        timezone: IANA zone whose wall clock the cron follows.
        after: Instant to search from (naive means UTC).

    Returns:
        The aware UTC instant, or ``None`` if the cron never fires again.
    """
    moment = as_utc(after)
    known = _last_found.get((cron, timezone))
    if known is not None and known[0] <= moment and (known[1] is None or moment < known[1]):
        return known[1]
    found = search_cron_after(cron, timezone, moment)
    if len(_last_found) >= _LAST_FOUND_LIMIT:
        _last_found.clear()
    _last_found[(cron, timezone)] = (moment, found)
    return found


_LAST_FOUND_LIMIT = 4096
_last_found: dict[tuple[str, str], tuple[datetime, datetime | None]] = {}
"""``(cron, zone) -> (searched from, found)``: one entry replaced whole, so threads may share it."""


def search_cron_after(cron: str, timezone: str, after: datetime) -> datetime | None:
    """:func:`next_cron_after` without the kept answers: the search itself."""
    tz = zone(timezone)
    every_hour = len(compile_cron(cron).hour.values) == 24
    moment = as_utc(after).replace(tzinfo=None)
    wall = moment + _offset_at(moment, tz)
    first, second = _offsets(wall, tz)
    best: datetime | None = None
    if every_hour and first > second and moment == wall - first:
        # ``after`` is in the first pass of a repeated hour: a wall time at or before its own
        # comes round again in the second pass, possibly before any later wall time does.
        again = _next_wall(cron, wall - (first - second))
        if again is not None and again < wall + (first - second):
            again_first, again_second = _offsets(again, tz)
            if again_first > again_second:
                best = again - again_second
    current = wall
    for _ in range(_MAX_CANDIDATES):
        candidate = _next_wall(cron, current)
        if candidate is None:
            break
        current = candidate
        first, second = _offsets(candidate, tz)
        if first == second:
            instant = candidate - first
        elif first > second:  # repeated wall time: first pass, or the second for intervals
            instant = candidate - first
            if instant <= moment and every_hour:
                instant = candidate - second
        elif every_hour:  # skipped wall time: resume where the clock lands after the jump
            jump = _gap_end(candidate - second, candidate - first, tz)
            current = jump + second - timedelta(microseconds=1)
            continue
        else:
            instant = _gap_end(candidate - second, candidate - first, tz)
        if instant > moment:
            best = instant if best is None else min(best, instant)
            break
    return None if best is None else best.replace(tzinfo=UTC)


def next_fire_after(schedule: Schedule, after: datetime) -> datetime | None:
    """The first time ``schedule`` fires strictly after ``after``: the scheduling core's hook.

    Args:
        schedule: A parsed schedule.
        after: Aware instant (a naive one is taken as UTC).

    Returns:
        An aware UTC instant, DST-correct in ``schedule.timezone``; for a one-shot, ``run_at``
        when it is later than ``after``; ``None`` when nothing is left to fire.
    """
    if schedule.cron is None:
        if schedule.run_at is None:
            return None
        run_at = as_utc(schedule.run_at)
        return run_at if run_at > as_utc(after) else None
    return next_cron_after(schedule.cron, schedule.timezone, after)
