"""Times of day: ``08:00``, ``8h``, ``7h30``, ``8am``, ``8 da manhã``, ``20h``, ``8pm``, ``noon``.

One pattern serves every rule that needs a time (``at 9``, ``das 8h às 18h``), in two flavours:
``TIME`` accepts a bare hour (``at 9``) because a keyword before it already says "a time
follows"; ``MARKED_TIME`` insists on a colon, ``h``, ``am``/``pm`` or a period word, so a lone
number elsewhere in a sentence is never mistaken for a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from chronoflow.nlcron import en, pt_br
from chronoflow.nlcron.errors import ScheduleError


def alternation(words: Iterable[str]) -> str:
    """Regex alternation of phrases, longest first so ``segunda-feira`` beats ``segunda``.

    Args:
        words: An iterable of normalized phrases.

    Returns:
        A non-capturing group matching any of them.
    """
    unique = sorted(set(words), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(word).replace(r"\ ", " ") for word in unique) + ")"


PERIODS: dict[str, str] = {**en.PERIODS, **pt_br.PERIODS}
NAMED_TIMES: dict[str, int] = {**en.NAMED_TIMES, **pt_br.NAMED_TIMES}

_AMPM = r"(?:a\.?m\.?|p\.?m\.?)"
_HOUR_WORD = r"(?:h(?:rs?|s)?|horas?|o'?clock)"
_CLOCK = (
    r"\d{1,2}(?:(?::|h|\.(?=\d\d))\d{2}(?:min|m)?)?(?::\d{2})?"
    rf"(?: ?(?:{_AMPM}|{_HOUR_WORD}))?(?: {alternation(PERIODS)})?"
)
TIME = rf"(?:{_CLOCK}|{alternation(NAMED_TIMES)})(?![\w/:-])"
"""A time of day, bare hour allowed (used after ``at``/``às`` and inside windows)."""

MARKED_TIME = (
    rf"(?:\d{{1,2}}(?::\d{{2}}(?::\d{{2}})?(?: ?(?:{_AMPM}|h))?|h\d{{2}}(?:min|m)?|(?: ?{_AMPM}|h))"
    rf"(?: {alternation(PERIODS)})?|\d{{1,2}} {alternation(PERIODS)}|{alternation(NAMED_TIMES)})(?![\w/:-])"
)
"""A time of day that is recognisably a time on its own (``9h``, ``7:30``, ``8pm``)."""

_PARTS = re.compile(
    r"(?P<h>\d{1,2})(?:(?::|h|\.)(?P<m>\d{2})(?:min|m)?)?(?::(?P<s>\d{2}))?"
    rf"(?: ?(?P<ampm>{_AMPM}))?(?: ?{_HOUR_WORD})?(?: (?P<period>{alternation(PERIODS)}))?"
    rf"|(?P<named>{alternation(NAMED_TIMES)})"
)


@dataclass(frozen=True, slots=True)
class TimeOfDay:
    """A validated wall-clock time.

    Attributes:
        hour: 0-23.
        minute: 0-59.
        second: 0-59.
        qualified: Whether the text fixed the half of the day (``am``/``pm``, a period word, a
            24-hour value, or a colon), so a "every night" hint must not move it.
    """

    hour: int
    minute: int
    second: int
    qualified: bool


def read_time(text: str) -> TimeOfDay:
    """Turn one time phrase (as matched by ``TIME``) into a checked time of day.

    Args:
        text: Normalized time phrase, e.g. ``8 da noite`` or ``7h30``.

    Returns:
        The time of day.

    Raises:
        ScheduleError: The hour, minute or second is out of range, or ``am``/``pm`` is applied
            to an hour that has no such half (``13pm``).
    """
    match = _PARTS.match(text)
    if match is None:  # pragma: no cover - TIME and _PARTS describe the same language
        raise ScheduleError(f'could not read the time "{text}"', text, "09:00")
    named = match.group("named")
    if named is not None:
        return TimeOfDay(NAMED_TIMES[named], 0, 0, True)
    hour = int(match.group("h"))
    minute = int(match.group("m") or 0)
    second = int(match.group("s") or 0)
    ampm, period = match.group("ampm"), match.group("period")
    half = "am" if ampm and ampm[0] == "a" else "pm" if ampm else PERIODS.get(period or "")
    if half is not None:
        # "8pm" and "8 da noite" need a 12-hour clock value; "20h da noite" is redundant but
        # clear, so a 24-hour value is accepted with a period word (never with am/pm).
        if not (1 <= hour <= 12 or (not ampm and half != "am" and 13 <= hour <= 23)):
            raise ScheduleError(
                f'"{text}" is not a valid time: {hour} is not an hour of the {_HALF_NAMES[half]}', text
            )
        if hour == 12:
            hour = 12 if half == "pm" else 0
        elif half != "am" and hour < 12:
            hour += 12
    if hour > 23:
        raise ScheduleError(f'hour {hour} in "{text}" is out of range (0-23)', text)
    if minute > 59:
        raise ScheduleError(f'minute {minute} in "{text}" is out of range (0-59)', text)
    if second > 59:
        raise ScheduleError(f'second {second} in "{text}" is out of range (0-59)', text)
    qualified = half is not None or hour >= 13 or hour == 0 or match.group("m") is not None
    return TimeOfDay(hour, minute, second, qualified)


_HALF_NAMES = {"am": "morning", "pm": "afternoon", "night": "night"}
