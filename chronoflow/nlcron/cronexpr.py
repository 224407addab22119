"""Raw cron expressions: validation, normalization and the expanded field sets.

Conventions, stated once for the whole package:

* Five fields are ``minute hour day-of-month month day-of-week``.
* Six fields carry **seconds first** (``second minute hour dom month dow``), as node-cron and
  Quartz users write them. croniter reads them with ``second_at_beginning=True``; this package
  always emits six-field crons in that order.
* Day-of-week counts from Sunday = 0 (7 is accepted as Sunday too); names are the three-letter
  English ones croniter knows (``mon``, ``jan``).
* When both day-of-month and day-of-week are restricted, a day matches if *either* does
  (classic cron, and croniter's ``day_or=True``).

The accepted syntax is deliberately a subset of croniter's (no ``W``, no hashed ``H``, no
wrap-around ranges), so anything that passes here is also something croniter runs, and the
describer and the fire-time engine never meet a construct they cannot explain.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from chronoflow.nlcron.errors import ScheduleError

ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The ``@`` shortcuts of Vixie cron, as the five-field crons they stand for."""

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_SECOND = _FieldSpec("second", 0, 59)
_MINUTE = _FieldSpec("minute", 0, 59)
_HOUR = _FieldSpec("hour", 0, 23)
_DOM = _FieldSpec("day of month", 1, 31)
_MONTH = _FieldSpec("month", 1, 12, MONTH_NAMES, 1)
_DOW = _FieldSpec("day of week", 0, 7, DOW_NAMES, 0)


def runs(values: Iterable[int]) -> list[tuple[int, int]]:
    """``{1, 2, 3, 5}`` -> ``[(1, 3), (5, 5)]``: distinct values as runs of consecutive numbers, in order.

    Both the cron a phrase compiles to and the description of a cron spell their lists from these.
    """
    found: list[tuple[int, int]] = []
    for value in sorted(set(values)):
        if found and value == found[-1][1] + 1:
            found[-1] = (found[-1][0], value)
        else:
            found.append((value, value))
    return found


@dataclass(frozen=True, slots=True)
class CronField:
    """One expanded field.

    Attributes:
        values: Every plain value the field matches (Sunday is 0 in day-of-week).
        star: Whether the field was written as ``*``/``?`` (possibly stepped): such a field does
            not restrict the day for the day-of-month/day-of-week "either" rule.
        last: Day-of-month only: ``L``, the last day of the month.
        nth: Day-of-week only: ``(weekday, n)`` pairs from ``weekday#n``.
        text: The field as normalized.
    """

    values: frozenset[int]
    star: bool
    last: bool
    nth: frozenset[tuple[int, int]]
    text: str


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A validated cron, expanded field by field.

    Attributes:
        text: The normalized expression (what ``Schedule.cron`` holds).
        second: Seconds field (``{0}`` for five-field crons).
        minute: Minutes field.
        hour: Hours field.
        dom: Day-of-month field.
        month: Month field.
        dow: Day-of-week field.
        has_seconds: Whether the expression has six fields.
    """

    text: str
    second: CronField
    minute: CronField
    hour: CronField
    dom: CronField
    month: CronField
    dow: CronField
    has_seconds: bool


def _number(token: str, spec: _FieldSpec, whole: str) -> int:
    if token.isdigit():
        value = int(token)
    elif token in spec.names:
        value = spec.names.index(token) + spec.name_base
    else:
        raise ScheduleError(f'"{token}" is not a valid {spec.name} in "{whole}"', token)
    if not spec.low <= value <= spec.high:
        raise ScheduleError(
            f'{spec.name} {value} is out of range ({spec.low}-{spec.high}) in "{whole}"', token
        )
    return value


def _parse_field(text: str, spec: _FieldSpec, whole: str) -> CronField:
    values: set[int] = set()
    nth: set[tuple[int, int]] = set()
    last = False
    items = text.split(",")
    for item in items:
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not 1 <= int(step_text) <= spec.high - spec.low:
                raise ScheduleError(f'step "{step_text}" is out of range for {spec.name} in "{whole}"', item)
            step = int(step_text)
        if base in ("*", "?"):
            if base == "?" and spec not in (_DOM, _DOW):
                raise ScheduleError(f'"?" is only allowed in day fields, not {spec.name}', item)
            start, stop = spec.low, spec.high
        elif base == "l" and spec is _DOM and not slash:
            last = True
            continue
        elif "#" in base and spec is _DOW and not slash:
            day_text, _, n_text = base.partition("#")
            day = _number(day_text, spec, whole) % 7
            if not n_text.isdigit() or not 1 <= int(n_text) <= 5:
                raise ScheduleError(f'"#{n_text}" must be 1-5 in "{whole}"', item)
            nth.add((day, int(n_text)))
            continue
        elif "-" in base:
            first, _, second = base.partition("-")
            start, stop = _number(first, spec, whole), _number(second, spec, whole)
            if start > stop:
                raise ScheduleError(f'range "{base}" runs backwards in "{whole}"', item)
        else:
            start = _number(base, spec, whole)
            # "5/15" means "from 5 to the end, every 15", as in croniter and Vixie cron.
            stop = spec.high if slash else start
        values.update(range(start, stop + 1, step))
    if spec is _DOW and 7 in values:
        values.discard(7)
        values.add(0)
    star = len(items) == 1 and items[0][:1] in ("*", "?")
    return CronField(frozenset(values), star, last, frozenset(nth), text)


def _check_reachable(expr: CronExpr) -> None:
    """Reject a cron whose day fields can never meet (``0 0 30 2 *``): it would never fire."""
    if not expr.dow.star or expr.dom.star or expr.dom.last:
        return
    longest = max(calendar.monthrange(2024, month)[1] for month in expr.month.values)
    if min(expr.dom.values) > longest:
        raise ScheduleError(
            f'"{expr.text}" never fires: day {min(expr.dom.values)} does not occur in the months it names',
            expr.dom.text,
        )


@lru_cache(maxsize=4096)
def compile_cron(text: str) -> CronExpr:
    """Validate and expand a raw cron expression or ``@`` alias.

    Cached because the fire-time engine asks for the same crons on every run.

    Args:
        text: Five or six fields (seconds first), or an alias such as ``@daily``; any case.

    Returns:
        The expanded expression; ``text`` attribute is its normalized form.

    Raises:
        ScheduleError: A field is malformed or out of range, or the cron can never fire.
    """
    lowered = " ".join(text.lower().split())
    lowered = ALIASES.get(lowered, lowered)
    if lowered.startswith("@"):
        raise ScheduleError(f'unknown cron alias "{lowered}"', lowered, "@daily")
    fields = lowered.split(" ")
    if len(fields) not in (5, 6):
        raise ScheduleError(f'a cron needs 5 or 6 fields, "{lowered}" has {len(fields)}', lowered)
    has_seconds = len(fields) == 6
    seconds_text = fields.pop(0) if has_seconds else "0"
    expr = CronExpr(
        text=lowered,
        second=_parse_field(seconds_text, _SECOND, lowered),
        minute=_parse_field(fields[0], _MINUTE, lowered),
        hour=_parse_field(fields[1], _HOUR, lowered),
        dom=_parse_field(fields[2], _DOM, lowered),
        month=_parse_field(fields[3], _MONTH, lowered),
        dow=_parse_field(fields[4], _DOW, lowered),
        has_seconds=has_seconds,
    )
    _check_reachable(expr)
    return expr


def looks_like_cron(normalized: str) -> bool:
    """Tell a raw cron or alias from natural language before any grammar runs.

    Args:
        normalized: The normalized schedule text.

    Returns:
        True when the text is an ``@`` word, or 5-6 fields made only of cron tokens (digits,
        ``* ? / , - # L`` and three-letter month and weekday names).
    """
    if normalized.startswith("@"):
        return True
    fields = normalized.split(" ")
    return len(fields) in (5, 6) and all(_CRON_FIELD.fullmatch(field) for field in fields)


_CRON_FIELD = re.compile(r"(?:[0-9*?l/,#-]|" + "|".join(MONTH_NAMES + DOW_NAMES) + ")+")
"""One field of a raw cron: what ``looks_like_cron`` accepts per field."""
