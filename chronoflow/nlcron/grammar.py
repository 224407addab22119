"""Natural-language schedules in English and Brazilian Portuguese: phrases into slots.

The normalized text is read left to right as a sequence of *phrases* (``every monday``,
``at 9``, ``between 8 and 18``, ``todo dia 1``...). At each position every phrase rule is tried
in a fixed order and the first that matches fills its slot of a ``Draft``; connectors (``,``,
``and``, ``e``) between phrases are skipped. Order matters only where phrases share a prefix:
``todo dia 15`` (monthly) and ``todo dia útil`` (weekdays) are tried before ``todo dia``
(daily). Both languages share every rule; their words come from ``en`` and ``pt_br``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chronoflow.nlcron import en, pt_br
from chronoflow.nlcron.clock import MARKED_TIME, TIME, alternation, read_time
from chronoflow.nlcron.compose import compose
from chronoflow.nlcron.draft import DateSpec, Draft, Span
from chronoflow.nlcron.errors import ScheduleError
from chronoflow.nlcron.text import original_span

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


def _words(name: str) -> tuple[str, ...]:
    """The phrases both vocabularies list under ``name``."""
    return (*getattr(en, name), *getattr(pt_br, name))


def _any(name: str) -> str:
    """Regex alternation of every phrase listed under ``name`` in either language."""
    return alternation(_words(name))


def _table(name: str) -> dict[str, Any]:
    """Both vocabularies' word tables under ``name``, merged."""
    return {**getattr(en, name), **getattr(pt_br, name)}


DAYS: dict[str, int] = _table("DAYS")
MONTHS: dict[str, int] = _table("MONTHS")
UNITS: dict[str, str] = _table("UNITS")
NUMBERS: dict[str, int] = _table("NUMBERS")
ORDINALS: dict[str, int] = _table("ORDINALS")
DAY_OFFSETS: dict[str, int] = _table("DAY_OFFSETS")

_PORTUGUESE_ONLY = frozenset(
    word
    for name in (
        "DAYS",
        "UNITS",
        "EVERY",
        "AT",
        "DAILY",
        "WEEKDAYS",
        "MONTHLY",
        "RELATIVE_PREFIX",
        "DAY_OFFSETS",
        "NEXT",
    )
    for phrase in getattr(pt_br, name)
    for word in phrase.split()
) - frozenset(
    [
        "a",
        *(
            word
            for name in ("DAYS", "UNITS", "EVERY", "AT", "DAILY")
            for phrase in getattr(en, name)
            for word in phrase.split()
        ),
    ]
)
"""Words that mark a phrase as Portuguese, so suggestions answer in the same language."""

Suggester = Callable[[str, int, int], str | None]
"""Given the normalized text and the unreadable stretch ``start:end``, a readable phrase or ``None``."""

_FULL_UNITS = {word: unit for word, unit in UNITS.items() if len(word) > 3 or word in ("dia", "ano", "mes")}
"""Units that may stand without a count (``every hour``, ``toda semana``); abbreviations may
not, or ``toda seg`` (every Monday) would read as "every second"."""

_END = r"(?=[ ,;&]|$)"
_NUM = rf"(?:\d+ ?|{alternation(NUMBERS)} )"
"""A count before a unit: digits may touch the unit (``5min``), spelled numbers may not (``as``
is "às", not "a s")."""
_DAY = rf"{alternation(DAYS)}(?![\w])"
_DAY_ITEM = rf"{_DAY}(?: ?(?:-|{alternation(w for w in _words('RANGE_SEP') if w != '-')}) ?{_DAY})?"
_LIST_SEP = r"(?: ?, ?(?:and |e )?| and | e | & | ?/ ?| or | ou )"
_DURATION_PART = rf"(?:\d+h\d{{2}}(?:min|m)?|{_NUM}{alternation(UNITS)})(?![\w/:])"
_DURATION = rf"(?:{_any('HALF_HOUR')}|{_DURATION_PART}(?:(?: ?, ?| and | e | ){_DURATION_PART})*)"
_DOM_ITEM = rf"(?:\d{{1,2}}(?:st|nd|rd|th|o|a|º)?(?![\w/:.-])|{_any('LAST_DAY')}(?! day)(?: (?:of the month|do mes))?)"
_DATE_PREFIX = rf"(?:(?P<yearly>todo dia|todo ano em|todos os anos em|todo ano no dia|every year on|each year on|annually on|yearly on|anualmente em|anualmente no dia) )?(?:{_any('DATE_PREFIX')} )?"
_MONTH = rf"{alternation(MONTHS)}(?![\w])"
_TIME_LIST = rf"{TIME}(?:{_LIST_SEP}(?:{_any('AT')} )?{TIME})*"
_MARKED_LIST = rf"{MARKED_TIME}(?:{_LIST_SEP}(?:{_any('AT')} )?{MARKED_TIME})*"

_ONE_TIME = re.compile(rf"{TIME}")
_ONE_DAY = re.compile(_DAY_ITEM)
_DAY_WORD = re.compile(_DAY)
_ONE_DURATION = re.compile(
    rf"(?:(?P<half>{_any('HALF_HOUR')})|(?P<hm>(?P<hh>\d+)h(?P<mm>\d{{2}}))(?:min|m)?|(?P<n>{_NUM})(?P<u>{alternation(UNITS)}))"
)
_ONE_DOM = re.compile(r"\d{1,2}|[a-z]")


class Reader:
    """One reading of one phrase: the text, the draft being filled, and error helpers."""

    __slots__ = ("draft", "expression", "suggester", "text")

    def __init__(self, expression: str, text: str, suggester: Suggester | None = None) -> None:
        self.expression = expression
        self.text = text
        self.suggester = suggester
        self.draft = Draft()

    def quote(self, start: int, end: int) -> str:
        """The user's own spelling of a span of the normalized text."""
        return original_span(self.expression, start, end)

    def fail(self, problem: str, start: int, end: int, suggestion: str | None = None) -> ScheduleError:
        """An error quoting the span ``start:end`` (``{}`` in ``problem`` marks where)."""
        fragment = self.quote(start, end)
        return ScheduleError(problem.format(f'"{fragment}"'), fragment, suggestion)

    def says(self, english: str, portuguese: str) -> str:
        """Pick the suggestion in the language the phrase is written in."""
        words = set(self.text.replace(",", " ").split())
        return portuguese if words & _PORTUGUESE_ONLY else english

    def claim(self, slot: str, match: re.Match[str]) -> None:
        """Record where ``slot`` was read, refusing a second phrase for the same slot."""
        earlier = self.draft.spans.get(slot)
        if earlier is not None:
            first = self.quote(earlier.start, earlier.end)
            raise self.fail(f'{{}} repeats what "{first}" already says', match.start(), match.end())
        self.draft.spans[slot] = Span(match.start(), match.end())


def _number(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else NUMBERS[text]


def _read_now(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("now", match)
    reader.draft.now = True
    return True


def _read_relative(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("relative", match)
    draft = reader.draft
    draft.relative_prefixed = bool(match.group("pre") or match.group("suf"))
    total = 0
    for part in _ONE_DURATION.finditer(match.group("dur")):
        if part.group("half"):
            total += 1800
        elif part.group("hm"):
            total += int(part.group("hh")) * 3600 + int(part.group("mm")) * 60
        else:
            unit = UNITS[part.group("u")]
            if unit in ("month", "year"):
                raise reader.fail(
                    "{} cannot be counted from now; give a date instead",
                    match.start(),
                    match.end(),
                    "on 2026-12-24 at 9",
                )
            total += _number(part.group("n")) * _SECONDS[unit]
    # "6h" or "8h30" alone is a delay, but next to other phrases ("toda segunda 9h") a time.
    hours_only = re.fullmatch(r"\d{1,2}h(?:\d{2})?", match.group("dur"))
    draft.durations.append(
        (total, match.group("dur") if hours_only and not draft.relative_prefixed else None)
    )
    return True


_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def _read_interval(reader: Reader, match: re.Match[str]) -> bool:
    draft = reader.draft
    if match.group("hourly"):
        count, unit = 1, "hour"
    elif match.group("minutely"):
        count, unit = 1, "minute"
    elif match.group("half"):
        count, unit = 30, "minute"
    elif match.group("u2"):
        count, unit = _number(match.group("n2")), UNITS[match.group("u2")]
    elif match.group("u1"):
        count, unit = 1, _FULL_UNITS[match.group("u1")]
    else:
        count, unit = _number(match.group("n")), UNITS[match.group("u")]
    if count == 1 and unit in ("day", "week", "month", "year"):
        return _set_marker(reader, match, unit)
    reader.claim("interval", match)
    draft.interval = (count, unit)
    return True


def _set_marker(reader: Reader, match: re.Match[str], unit: str) -> bool:
    draft = reader.draft
    reader.claim(unit, match)
    if unit == "day":
        draft.daily = True
    elif unit == "week":
        draft.weekly = True
    elif unit == "month":
        draft.monthly = True
    else:
        draft.yearly = True
    return True


def _read_marker(reader: Reader, match: re.Match[str]) -> bool:
    kind = match.lastgroup
    if kind in ("am", "pm"):
        reader.draft.half_hint = "night" if kind == "pm" else "am"
        return _set_marker(reader, match, "day")
    return _set_marker(
        reader, match, {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}[kind or ""]
    )


def _read_day_group(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("dows", match)
    reader.draft.dows.update((1, 2, 3, 4, 5) if match.group("wd") else (0, 6))
    return True


def _read_days(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("dows", match)
    for item in _ONE_DAY.finditer(match.group("list")):
        names = _DAY_WORD.findall(item.group())
        first, last = DAYS[names[0]], DAYS[names[-1]]
        if last < first:  # "sexta a segunda" wraps through the weekend
            reader.draft.dows.update(range(first, 7))
            reader.draft.dows.update(range(last + 1))
        else:
            reader.draft.dows.update(range(first, last + 1))
    return True


def _read_nth_day(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("dows", match)
    reader.draft.nth.add((DAYS[match.group("day")], ORDINALS[match.group("ord")]))
    reader.draft.monthly = True
    return True


_DOM_WORDS = re.compile(r"\b(?:day|days|dia|dias|the)\b")
_MONTHLY_WORDS = re.compile(r"every|each|todo|todos|monthly|mensalmente|mes|month|cada")


def _read_doms(reader: Reader, match: re.Match[str]) -> bool:
    pre, suffix, items = match.group("pre") or "", match.group("suf") or "", match.group("list")
    if (
        not _DOM_WORDS.search(pre)
        and not suffix
        and not re.search(r"\d(?:st|nd|rd|th|o|a|º)|last|ultimo", items)
    ):
        return False  # a lone number is not a day of the month
    reader.claim("doms", match)
    draft = reader.draft
    for item in re.finditer(r"\d{1,2}|last|ultimo", items):
        if item.group() in ("last", "ultimo"):
            draft.last_dom = True
            continue
        day = int(item.group())
        if not 1 <= day <= 31:
            raise reader.fail(
                f"day of the month {day} in {{}} is out of range (1-31)", match.start(), match.end()
            )
        draft.doms.add(day)
    if _MONTHLY_WORDS.search(pre) or suffix or _MONTHLY_WORDS.search(items):
        draft.monthly = True
    return True


def _read_date(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("date", match)
    groups = match.groupdict()
    year: int | None
    if groups["y1"]:
        year, month, day = int(groups["y1"]), int(groups["mo1"]), int(groups["d1"])
    elif groups["mo2"]:
        year = int(groups["y2"]) if groups["y2"] else None
        if year is not None and year < 100:
            year += 2000
        month, day = int(groups["mo2"]), int(groups["d2"])
    elif groups["m3"]:
        year = int(groups["y3"]) if groups["y3"] else None
        month, day = MONTHS[groups["m3"]], int(groups["d3"])
    else:
        year = int(groups["y4"]) if groups["y4"] else None
        month, day = MONTHS[groups["m4"]], int(groups["d4"])
    reader.draft.date = DateSpec(year, month, day, Span(match.start(), match.end()))
    if groups["yearly"]:
        reader.draft.yearly = True
    return True


def _read_day_offset(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("date", match)
    reader.draft.day_offset = DAY_OFFSETS[match.group("off")]
    if match.group("off") == "tonight":
        reader.draft.half_hint = "night"
    return True


def _read_next_day(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("date", match)
    reader.draft.next_dow = DAYS[match.group("day")]
    return True


def _read_window(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("window", match)
    reader.draft.window = (read_time(match.group("a")), read_time(match.group("b")))
    return True


def _read_times(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("times", match)
    start = match.start("list")
    for one in _ONE_TIME.finditer(match.group("list")):
        try:
            reader.draft.times.append(read_time(one.group()))
        except ScheduleError as exc:
            raise reader.fail(
                exc.problem.replace(f'"{exc.fragment}"', "{}"), start + one.start(), start + one.end()
            ) from None
    return True


def _read_minute_offset(reader: Reader, match: re.Match[str]) -> bool:
    reader.claim("minute_offset", match)
    minute = int(next(group for group in match.groups() if group is not None))
    if minute > 59:
        raise reader.fail("minute {} is out of range (0-59)", match.start(), match.end())
    reader.draft.minute_offset = minute
    return True


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern + _END)


_Handler = Callable[[Reader, re.Match[str]], bool]

RULES: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_rule(_any("NOW")), _read_now),
    (
        _rule(
            r"(?:at minute|minute|no minuto|ao minuto|aos|nos) (\d{1,2})(?: minutos?)?|(?:at )?:(\d{2})"
            r"|(?:at )?(\d{1,2}) (?:minutes )?past(?: the hour)?"
        ),
        _read_minute_offset,
    ),
    (_rule(rf"(?:{_any('AT')}) (?P<list>{_TIME_LIST})"), _read_times),
    (
        _rule(
            rf"(?:(?P<pre>{_any('RELATIVE_PREFIX')}) )?(?P<dur>{_DURATION})"
            rf"(?: (?P<suf>{_any('RELATIVE_SUFFIX')}))?"
        ),
        _read_relative,
    ),
    (
        _rule(
            rf"{_DATE_PREFIX}(?:(?P<y1>\d{{4}})-(?P<mo1>\d{{1,2}})-(?P<d1>\d{{1,2}})"
            rf"|(?P<d2>\d{{1,2}})/(?P<mo2>\d{{1,2}})(?:/(?P<y2>\d{{4}}|\d{{2}}))?"
            rf"|(?P<d3>\d{{1,2}})(?:st|nd|rd|th|o|º)?(?: de| of)? (?P<m3>{_MONTH})(?:,? (?:de )?(?P<y3>\d{{4}}))?"
            rf"|(?:the )?(?P<m4>{_MONTH}) (?P<d4>\d{{1,2}})(?:st|nd|rd|th)?(?:,? (?P<y4>\d{{4}}))?)"
        ),
        _read_date,
    ),
    (
        _rule(
            rf"(?P<pre>{_any('DOM_PREFIX')} )?(?P<list>{_DOM_ITEM}(?:{_LIST_SEP}{_DOM_ITEM})*)"
            r"(?: (?P<suf>(?:day )?(?:of|do|de) (?:the |every |each |cada |todo )?(?:month|mes)))?"
        ),
        _read_doms,
    ),
    (
        _rule(rf"(?:{_any('DAY_PREFIX')} )?(?:(?P<wd>{_any('WEEKDAYS')})|(?P<we>{_any('WEEKENDS')}))"),
        _read_day_group,
    ),
    (
        _rule(
            rf"(?:{_any('DAY_PREFIX')} )?(?:the )?(?P<ord>{alternation(ORDINALS)}) (?P<day>{alternation(DAYS)})"
            r"(?: (?:of|do|de) (?:the |every |each |cada |todo )?(?:month|mes))?"
        ),
        _read_nth_day,
    ),
    (
        _rule(
            rf"(?:(?:{_any('DAY_PREFIX')} )?(?:(?:os|as|the) )?(?:de |from )?)(?P<list>{_DAY_ITEM}(?:{_LIST_SEP}{_DAY_ITEM})*)"
        ),
        _read_days,
    ),
    (_rule(rf"(?P<off>{alternation(DAY_OFFSETS)})"), _read_day_offset),
    (_rule(rf"(?:{_any('NEXT')}) (?P<day>{_DAY})"), _read_next_day),
    (
        _rule(rf"(?:{_any('WINDOW_START')}) (?P<a>{TIME}) (?:{_any('WINDOW_SEP')}) (?P<b>{TIME})"),
        _read_window,
    ),
    (_rule(rf"(?P<list>{_MARKED_LIST})"), _read_times),
    (
        _rule(
            rf"(?P<daily>{_any('DAILY')})|(?P<am>{_any('DAILY_AM')})"
            rf"|(?P<pm>{_any('DAILY_PM')})|(?P<weekly>{_any('WEEKLY')})"
            rf"|(?P<monthly>{_any('MONTHLY')})|(?P<yearly>{_any('YEARLY')})"
        ),
        _read_marker,
    ),
    (
        _rule(
            rf"(?P<hourly>{_any('HOURLY')})|(?P<minutely>de minuto em minuto)"
            rf"|(?P<half>de meia em meia hora|(?:{_any('EVERY')}) {_any('HALF_HOUR')})"
            rf"|(?:{_any('EVERY')}) (?:(?P<n>{_NUM})(?P<u>{alternation(UNITS)})|(?P<u1>{alternation(_FULL_UNITS)}))"
            rf"|de (?P<n2>\d+) em \d+ (?P<u2>{alternation(UNITS)})"
        ),
        _read_interval,
    ),
)
"""Phrase rules in the order they are tried at each position."""


_CONNECTOR = re.compile(r"(?:,|;|&|and|e|then|com|with)(?= |$)| ")


def scan(reader: Reader) -> Draft:
    """Read every phrase of the text into the reader's draft.

    Args:
        reader: Holds the normalized text and the draft to fill.

    Returns:
        The filled draft.

    Raises:
        ScheduleError: Some part of the text matches no phrase rule.
    """
    text, position, size = reader.text, 0, len(reader.text)
    while position < size:
        connector = _CONNECTOR.match(text, position)
        if connector is not None and position > 0:
            position = connector.end()
            continue
        for pattern, handler in RULES:
            match = pattern.match(text, position)
            if match is not None and handler(reader, match):
                position = match.end()
                break
        else:
            raise _unreadable(reader, position)
    return reader.draft


def _unreadable(reader: Reader, position: int) -> ScheduleError:
    """The error for text no rule reads: quote up to where reading could resume."""
    text = reader.text
    end = text.find(" ", position)
    end = len(text) if end == -1 else end
    # Extend over following words that are not the start of a readable phrase either, so the
    # quote covers the whole unreadable stretch rather than its first word.
    while end < len(text):
        following = end + 1
        if any(pattern.match(text, following) for pattern, _ in RULES):
            break
        next_space = text.find(" ", following)
        end = len(text) if next_space == -1 else next_space
    fragment = reader.quote(position, end)
    return ScheduleError(
        f'could not read "{fragment}" in "{reader.expression.strip()}"',
        fragment,
        reader.suggester(reader.text, position, end) if reader.suggester is not None else None,
    )


def read_phrase(
    expression: str, normalized: str, tz: ZoneInfo, now: datetime, suggester: Suggester | None = None
) -> tuple[str | None, datetime | None]:
    """Read a natural-language schedule.

    Args:
        expression: The schedule as written (quoted in errors).
        normalized: Its normalized form.
        tz: Zone the wall-clock times are read in.
        now: Aware instant relative phrases count from.
        suggester: Proposes a readable phrase for an unreadable stretch (``suggest.suggest``);
            passed in because the suggester itself probes candidates with this reader, and
            left out while it does so, which would otherwise recurse.

    Returns:
        ``(cron, None)`` for a recurring schedule, ``(None, run_at)`` for a one-shot.

    Raises:
        ScheduleError: The phrase cannot be read, or says something out of range.
    """
    if normalized.endswith("."):
        normalized = normalized.rstrip(".")
    reader = Reader(expression, normalized, suggester)
    return compose(scan(reader), reader, tz, now)
