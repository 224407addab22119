"""Meaning: a filled ``Draft`` becomes a cron or a UTC instant, or a precise error.

This is where combinations are judged (``every 5 minutes at 9`` makes no sense), ranges are
checked (``every 0 minutes``, ``dia 31/02``) and intervals are held to what a cron can say
exactly: ``every 7 minutes`` is refused rather than turned into ``*/7``, which fires at :56 and
again four minutes later at :00.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from chronoflow.nlcron.clock import TimeOfDay, read_time
from chronoflow.nlcron.cronexpr import compile_cron, runs
from chronoflow.nlcron.draft import Span
from chronoflow.nlcron.fire_times import wall_to_utc

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from chronoflow.nlcron.draft import Draft
    from chronoflow.nlcron.grammar import Reader

_DIVISORS = {"second": (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30), "minute": (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30),
             "hour": (1, 2, 3, 4, 6, 8, 12), "month": (1, 2, 3, 4, 6)}  # fmt: skip
"""Counts a cron step repeats exactly: divisors of 60 seconds, 60 minutes, 24 hours, 12 months."""

_PT_UNITS = {
    "second": "segundos",
    "minute": "minutos",
    "hour": "horas",
    "month": "meses",
    "day": "dias",
    "week": "semanas",
    "year": "anos",
}
_PT_EVERY = {"day": "todo dia", "week": "toda semana", "year": "todo ano"}
"""Portuguese words for suggestions written back to a Portuguese phrase."""

_MONTH_NAMES = ("", "january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")  # fmt: skip
_RECURRING_SLOTS = ("interval", "dows", "doms", "window", "minute_offset", "day", "week", "month", "year")


MAX_DELAY_DAYS = 3660
"""Longest relative delay (``in 3660 days``, about ten years); a later time is given as a date."""


def compose(draft: Draft, reader: Reader, tz: ZoneInfo, now: datetime) -> tuple[str | None, datetime | None]:
    """Turn a draft into ``(cron, None)`` or ``(None, run_at)``.

    Args:
        draft: The slots the grammar filled.
        reader: Source of spans and error quoting.
        tz: Zone wall-clock times are read in.
        now: Aware instant relative phrases count from.

    Returns:
        The normalized cron of a recurring schedule, or the aware UTC instant of a one-shot.

    Raises:
        ScheduleError: The combination makes no sense or a value is out of range.
    """
    spans = draft.spans
    if draft.now:
        _only(reader, ("now",))
        return None, now
    if (
        draft.durations
        and len(spans) > 1
        and "times" not in spans
        and all(text for _, text in draft.durations)
    ):
        # "toda segunda 9h": the "9h" read as a delay is the time of day.
        draft.times = [read_time(text) for _, text in draft.durations if text]
        spans["times"] = spans.pop("relative")
        draft.durations = []
    if draft.durations:
        return None, _relative(draft, reader, tz, now)
    if draft.day_offset is not None or draft.next_dow is not None or (draft.date and not draft.yearly):
        return None, _one_shot(draft, reader, tz, now)
    return _recurring(draft, reader), None


def _only(reader: Reader, allowed: tuple[str, ...]) -> None:
    """Refuse any slot outside ``allowed``, quoting the first offender."""
    for slot, span in reader.draft.spans.items():
        if slot not in allowed:
            main = next(s for name, s in reader.draft.spans.items() if name in allowed)
            raise reader.fail(
                f'{{}} cannot be combined with "{reader.quote(main.start, main.end)}"', span.start, span.end
            )


def _relative(draft: Draft, reader: Reader, tz: ZoneInfo, now: datetime) -> datetime:
    span = draft.spans["relative"]
    total = sum(seconds for seconds, _ in draft.durations)
    if total <= 0:
        raise reader.fail(
            "{} is not a delay: it must be at least one second",
            span.start,
            span.end,
            reader.says("in 10 min", "em 10 minutos"),
        )
    if total > MAX_DELAY_DAYS * 86400:
        raise reader.fail(
            f"{{}} is too far ahead: a delay can be at most {MAX_DELAY_DAYS} days; give a date instead",
            span.start,
            span.end,
            "2030-12-24T09:00",
        )
    _only(reader, ("relative", "times"))
    if not draft.times:
        return now + timedelta(seconds=total)
    # "in 2 days at 9": the days pick the date, the time of day comes from the phrase.
    if total % 86400 or len(draft.times) > 1:
        times = draft.spans["times"]
        raise reader.fail(
            "{} needs a whole number of days before it",
            times.start,
            times.end,
            reader.says("in 2 days at 9", "daqui a 2 dias às 9h"),
        )
    day = now.astimezone(tz).date() + timedelta(days=total // 86400)
    return _at(day, _hinted(draft, draft.times[0]), tz)


def _hinted(draft: Draft, time: TimeOfDay) -> TimeOfDay:
    """Apply ``every night``/``tonight`` to a bare hour: ``every night at 10`` is 22:00."""
    if draft.half_hint in ("pm", "night") and not time.qualified and 1 <= time.hour <= 11:
        return TimeOfDay(time.hour + 12, time.minute, time.second, True)
    return time


def _at(day: date, time: TimeOfDay, tz: ZoneInfo) -> datetime:
    return wall_to_utc(datetime(day.year, day.month, day.day, time.hour, time.minute, time.second), tz)


def _check_date(reader: Reader, span: Span, year: int | None, month: int, day: int) -> None:
    if not 1 <= month <= 12:
        raise reader.fail(f"month {month} in {{}} is out of range (1-12)", span.start, span.end)
    longest = calendar.monthrange(year if year is not None else 2024, month)[1]
    if not 1 <= day <= longest:
        where = f"{_MONTH_NAMES[month]} {year}" if year is not None and day <= 29 else _MONTH_NAMES[month]
        raise reader.fail(f"day {day} does not exist in {where} in {{}}", span.start, span.end)


def _one_shot(draft: Draft, reader: Reader, tz: ZoneInfo, now: datetime) -> datetime:
    _only(reader, ("date", "times"))
    span = draft.spans["date"]
    if len(draft.times) > 1:
        times = draft.spans["times"]
        raise reader.fail("a single date takes one time, not {}", times.start, times.end)
    local_now = now.astimezone(tz)
    time = _hinted(draft, draft.times[0]) if draft.times else None
    if draft.date is not None:
        spec = draft.date
        _check_date(reader, span, spec.year, spec.month, spec.day)
        time = time or TimeOfDay(0, 0, 0, True)
        if spec.year is not None:
            return _at(date(spec.year, spec.month, spec.day), time, tz)
        # Without a year the date is the next one to come: this year's, unless already past.
        for year in range(local_now.year, local_now.year + 9):
            if spec.day <= calendar.monthrange(year, spec.month)[1]:
                instant = _at(date(year, spec.month, spec.day), time, tz)
                if instant > now:
                    return instant
        raise reader.fail("{} does not occur in the coming years", span.start, span.end)  # pragma: no cover
    if time is None:
        said = reader.quote(span.start, span.end)
        raise reader.fail(
            "{} needs a time of day", span.start, span.end, reader.says(f"{said} at 9", f"{said} às 9h")
        )
    if draft.next_dow is not None:
        ahead = (draft.next_dow - (local_now.weekday() + 1) % 7) % 7 or 7
        return _at(local_now.date() + timedelta(days=ahead), time, tz)
    return _at(local_now.date() + timedelta(days=draft.day_offset or 0), time, tz)


def _compress(values: set[int] | list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3,5"``: the short, conventional spelling of a cron list (pairs stay ``"1,2"``)."""
    return ",".join(
        f"{first}-{last}" if last - first >= 2 else ",".join(map(str, range(first, last + 1)))
        for first, last in runs(values)
    )


def _step_error(reader: Reader, count: int, unit: str) -> None:
    span = reader.draft.spans["interval"]
    if count <= 0:
        raise reader.fail(
            "{} is not an interval: the count must be at least 1",
            span.start,
            span.end,
            reader.says(f"every 5 {unit}s", f"a cada 5 {_PT_UNITS[unit]}"),
        )
    allowed = _DIVISORS.get(unit)
    if allowed is None:
        why = {
            "day": "its day count restarts every month",
            "week": "it has no week count",
            "year": "it has no year field",
        }
        raise reader.fail(
            f"{{}} cannot be written as a cron: {why[unit]}",
            span.start,
            span.end,
            reader.says(f"every {unit}", _PT_EVERY[unit]),
        )
    if count not in allowed:
        nearest = min(allowed, key=lambda value: (abs(value - count), value))
        whole = {"second": "a minute", "minute": "an hour", "hour": "a day", "month": "a year"}[unit]
        raise reader.fail(
            f"{{}} does not divide {whole} evenly, so a cron would not keep that rhythm",
            span.start,
            span.end,
            reader.says(f"every {nearest} {unit}s", f"a cada {nearest} {_PT_UNITS[unit]}"),
        )


def _window_hours(reader: Reader, step: int = 1) -> str:
    """Hours of a ``between A and B`` window: from A up to, not including, B."""
    draft = reader.draft
    assert draft.window is not None
    start, end = draft.window
    span = draft.spans["window"]
    if start.minute or end.minute or start.second or end.second:
        raise reader.fail(
            "{} must start and end on the hour to be written as a cron",
            span.start,
            span.end,
            reader.says("between 8 and 18", "das 8h às 18h"),
        )
    if start.hour == end.hour:
        raise reader.fail(
            "{} is an empty window", span.start, span.end, reader.says("between 8 and 18", "das 8h às 18h")
        )
    hours = (
        list(range(start.hour, end.hour))
        if start.hour < end.hour
        else [*range(start.hour, 24), *range(end.hour)]
    )
    hours = hours[::step]
    if start.hour < end.hour and step > 1 and len(hours) > 1:
        return f"{start.hour}-{end.hour - 1}/{step}"
    return _compress(hours)


def _recurring(draft: Draft, reader: Reader) -> str:
    spans = draft.spans
    if not spans:  # pragma: no cover - the scanner reads at least one phrase
        raise reader.fail("{} says nothing about when", 0, len(reader.text))
    second, minute, hour, dom, month, dow = "0", "0", "0", "*", "*", "*"
    if draft.interval is not None:
        count, unit = draft.interval
        if unit == "minute" and count >= 60 and count % 60 == 0:
            count, unit = count // 60, "hour"
        if unit == "hour" and count == 24:
            count, unit = 1, "day"
        if unit == "second" and count == 60:
            count, unit = 1, "minute"
        if unit == "day" and count == 1:
            draft.daily = True
        else:
            _step_error(reader, count, unit)
        if draft.times and unit in ("second", "minute", "hour"):
            times = spans["times"]
            raise reader.fail(
                "{} gives a time of day to something that repeats within the day; use a window instead",
                times.start,
                times.end,
                reader.says("every 15 minutes between 8 and 18", "a cada 15 minutos das 8h às 18h"),
            )
        step = "*" if count == 1 else f"*/{count}"
        if unit == "second":
            second, minute, hour = step, "*", "*"
        elif unit == "minute":
            minute, hour = step, "*"
        elif unit == "hour":
            minute = str(draft.minute_offset or 0)
            hour = step
            if draft.window is not None:
                hour = _window_hours(reader, count)
        elif unit == "month":
            month = step
            draft.monthly = True
        if unit in ("second", "minute") and draft.window is not None:
            hour = _window_hours(reader)
    elif draft.window is not None:
        span = spans["window"]
        raise reader.fail(
            "{} needs to say how often within it",
            span.start,
            span.end,
            reader.says("every hour ", "de hora em hora ") + reader.quote(span.start, span.end),
        )
    if draft.minute_offset is not None and (draft.interval is None or draft.interval[1] != "hour"):
        span = spans["minute_offset"]
        raise reader.fail(
            "{} only makes sense for an hourly schedule",
            span.start,
            span.end,
            reader.says("every hour at :15", "de hora em hora aos 15 minutos"),
        )
    if draft.interval is None or draft.interval[1] not in ("second", "minute", "hour"):
        if not (
            draft.daily
            or draft.weekly
            or draft.monthly
            or draft.yearly
            or draft.dows
            or draft.nth
            or draft.doms
            or draft.last_dom
            or draft.date
        ):
            span = spans.get("times") or next(iter(spans.values()))
            said = reader.quote(span.start, span.end)
            raise reader.fail(
                "{} does not say which days it repeats on",
                span.start,
                span.end,
                reader.says(f"every day {said}", f"todo dia {said}"),
            )
        second, minute, hour = _time_fields(draft, reader)
    dom, month, dow = _day_fields(draft, reader, dom, month, dow)
    fields = [minute, hour, dom, month, dow]
    if second != "0":
        fields.insert(0, second)
    return compile_cron(" ".join(fields)).text


def _time_fields(draft: Draft, reader: Reader) -> tuple[str, str, str]:
    times = [_hinted(draft, time) for time in draft.times] or [TimeOfDay(0, 0, 0, True)]
    seconds = {time.second for time in times}
    minutes = {time.minute for time in times}
    hours = {time.hour for time in times}
    # A cron crosses its fields, so several times fit in one cron only if they differ in
    # a single field: 09:00 and 18:00 do, 09:00 and 18:30 do not (that would add 09:30).
    if len(times) > 1 and len(seconds) * len(minutes) * len(hours) != len(
        {(t.hour, t.minute, t.second) for t in times}
    ):
        span = draft.spans["times"]
        raise reader.fail(
            "{} are times a single cron cannot hold together; use one schedule per time", span.start, span.end
        )
    return _compress(seconds), _compress(minutes), _compress(hours)


def _day_fields(draft: Draft, reader: Reader, dom: str, month: str, dow: str) -> tuple[str, str, str]:
    spans = draft.spans
    if (draft.doms or draft.last_dom) and (draft.dows or draft.nth):
        span = spans["dows"]
        raise reader.fail(
            "{} and a day of the month together would fire on either, not both", span.start, span.end
        )
    if draft.date is not None:  # yearly, as one-shot dates never reach here
        span = spans["date"]
        if draft.date.year is not None:
            raise reader.fail("{} has a year, so it cannot repeat every year", span.start, span.end)
        if draft.doms or draft.dows or draft.nth:
            raise reader.fail("{} already names the day", span.start, span.end)
        _check_date(reader, span, None, draft.date.month, draft.date.day)
        return str(draft.date.day), str(draft.date.month), "*"
    if draft.yearly and not draft.doms:
        return "1", "1", "*"
    if draft.doms or draft.last_dom:
        if not draft.monthly:
            span = spans["doms"]
            raise reader.fail(
                "{} does not say it repeats every month",
                span.start,
                span.end,
                reader.says("every month ", "todo ") + reader.quote(span.start, span.end),
            )
        parts = [_compress(draft.doms)] if draft.doms else []
        dom = ",".join([*parts, "l"] if draft.last_dom else parts)
    elif draft.monthly and not draft.nth:
        dom = "1"
    if draft.nth:
        dow = ",".join(f"{day}#{n}" for day, n in sorted(draft.nth))
    elif draft.dows:
        dow = _compress(draft.dows)
    elif draft.weekly:
        dow = "0"
    return dom, month, dow
