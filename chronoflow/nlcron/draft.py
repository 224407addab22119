"""What the grammar has read so far: named slots, each filled by at most one phrase.

The grammar fills slots in any order (``at 9 every monday`` = ``every monday at 9``); ``compose``
then checks the combination and writes the cron or instant. Keeping the two apart means word
order, synonyms and language live in the grammar, and meaning lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chronoflow.nlcron.clock import TimeOfDay


@dataclass(slots=True)
class Span:
    """Where a phrase sits in the normalized text, so errors can quote the user's words."""

    start: int
    end: int


@dataclass(slots=True)
class DateSpec:
    """A calendar date as written; ``year`` is ``None`` when the phrase gave none."""

    year: int | None
    month: int
    day: int
    span: Span


@dataclass(slots=True)
class Draft:
    """Slots of a schedule phrase.

    Attributes:
        now: ``now``/``agora``.
        durations: ``(seconds, unit-of-hours text or None)`` per relative phrase; the text is
            kept for ``6h``-style phrases, which read as a time when other phrases follow.
        relative_prefixed: Whether a relative phrase had ``in``/``em``/``daqui``.
        date: An explicit calendar date.
        yearly: The date repeats every year (``todo dia 25/12``, ``every year on``).
        day_offset: ``today`` = 0, ``tomorrow`` = 1...
        next_dow: ``next monday``.
        times: Times of day, in the order written.
        window: ``between`` start and end.
        interval: ``(count, unit)`` from ``every 5 minutes``.
        minute_offset: ``at :15`` for hourly schedules.
        daily: ``daily``/``todo dia``.
        half_hint: ``am``/``pm``/``night`` from ``every morning``/``toda noite``.
        weekly: ``weekly``.
        monthly: ``monthly``/``of every month``.
        dows: Weekdays (Sunday = 0).
        nth: ``(weekday, n)`` from ``the first monday``.
        doms: Days of the month.
        last_dom: ``last day of the month``.
        spans: Where each slot was read, by slot name.
    """

    now: bool = False
    durations: list[tuple[int, str | None]] = field(default_factory=list)
    relative_prefixed: bool = False
    date: DateSpec | None = None
    yearly: bool = False
    day_offset: int | None = None
    next_dow: int | None = None
    times: list[TimeOfDay] = field(default_factory=list)
    window: tuple[TimeOfDay, TimeOfDay] | None = None
    interval: tuple[int, str] | None = None
    minute_offset: int | None = None
    daily: bool = False
    half_hint: str | None = None
    weekly: bool = False
    monthly: bool = False
    dows: set[int] = field(default_factory=set)
    nth: set[tuple[int, int]] = field(default_factory=set)
    doms: set[int] = field(default_factory=set)
    last_dom: bool = False
    spans: dict[str, Span] = field(default_factory=dict)
