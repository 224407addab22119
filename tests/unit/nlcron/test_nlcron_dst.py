"""Daylight saving: skipped times fire once at the jump, repeated times once, intervals keep time.

Zones: America/Sao_Paulo (no DST since 2019; its 2018-19 transitions are still in the tz
database and happened at midnight), America/New_York and Europe/Lisbon.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from chronoflow.nlcron import next_fire_after, next_fire_times, parse


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "phrase", "after", "expected"),
    [
        # São Paulo, 2018-11-04: 00:00 -03 jumped to 01:00 -02.
        pytest.param(
            "America/Sao_Paulo",
            "todo dia à meia-noite",
            utc(2018, 11, 3, 12),
            [utc(2018, 11, 4, 3), utc(2018, 11, 5, 2)],
            id="sao-paulo-2018-midnight-skipped",
        ),
        pytest.param(
            "America/Sao_Paulo",
            "todo dia às 0h30",
            utc(2018, 11, 3, 12),
            [utc(2018, 11, 4, 3), utc(2018, 11, 5, 2, 30)],
            id="sao-paulo-2018-0030-skipped",
        ),
        # São Paulo, 2019-02-17: 00:00 -02 went back to 23:00 -03 on the 16th.
        pytest.param(
            "America/Sao_Paulo",
            "todo dia às 23h30",
            utc(2019, 2, 16, 12),
            [utc(2019, 2, 17, 1, 30), utc(2019, 2, 18, 2, 30)],
            id="sao-paulo-2019-2330-repeated",
        ),
        # New York, 2026-03-08: 02:00 EST jumped to 03:00 EDT; 2026-11-01: 02:00 EDT back to 01:00 EST.
        pytest.param(
            "America/New_York",
            "daily at 02:30",
            utc(2026, 3, 7, 12),
            [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)],
            id="new-york-0230-skipped",
        ),
        pytest.param(
            "America/New_York",
            "daily at 01:30",
            utc(2026, 10, 31, 12),
            [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
            id="new-york-0130-repeated",
        ),
        pytest.param(
            "America/New_York",
            "weekdays at 9am",
            utc(2026, 3, 6, 15),
            [utc(2026, 3, 9, 13)],
            id="new-york-0900-after-change",
        ),
        # Lisbon, 2026-03-29: 01:00 WET jumped to 02:00 WEST; 2026-10-25: 02:00 WEST back to 01:00 WET.
        pytest.param(
            "Europe/Lisbon",
            "todo dia às 1h30",
            utc(2026, 3, 28, 12),
            [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)],
            id="lisbon-0130-skipped",
        ),
        pytest.param(
            "Europe/Lisbon",
            "todo dia às 1h30",
            utc(2026, 10, 24, 12),
            [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
            id="lisbon-0130-repeated",
        ),
    ],
)
def test_fixed_times_fire_once_per_day(
    zone: str, phrase: str, after: datetime, expected: list[datetime]
) -> None:
    """It fires a skipped time once at the jump and a repeated time once, at its first pass."""
    assert next_fire_times(parse(phrase, zone), len(expected), after=after) == expected


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        pytest.param("America/Sao_Paulo", utc(2018, 11, 4, 3), id="sao-paulo-2018-spring"),
        pytest.param("America/Sao_Paulo", utc(2019, 2, 17, 2), id="sao-paulo-2019-autumn"),
        pytest.param("America/New_York", utc(2026, 3, 8, 7), id="new-york-spring"),
        pytest.param("America/New_York", utc(2026, 11, 1, 6), id="new-york-autumn"),
        pytest.param("Europe/Lisbon", utc(2026, 3, 29, 1), id="lisbon-spring"),
        pytest.param("Europe/Lisbon", utc(2026, 10, 25, 1), id="lisbon-autumn"),
    ],
)
@pytest.mark.parametrize(
    ("phrase", "step"),
    [
        pytest.param("every 15 minutes", timedelta(minutes=15), id="15-minutes"),
        pytest.param("hourly", timedelta(hours=1), id="hourly"),
        pytest.param("a cada 30 segundos", timedelta(seconds=30), id="30-seconds"),
    ],
)
def test_intervals_keep_their_rhythm(zone: str, around: datetime, phrase: str, step: timedelta) -> None:
    """It keeps every-N intervals evenly spaced in real time across a transition."""
    count = int(timedelta(hours=4) / step)
    times = next_fire_times(parse(phrase, zone), count, after=around - timedelta(hours=2) - step / 2)
    assert len(times) == count
    assert all(later - earlier == step for earlier, later in itertools.pairwise(times))


def test_search_from_inside_a_repeated_hour() -> None:
    """It finds the second pass of a wall time that precedes ``after`` on the clock."""
    schedule = parse("5 * * * *", "America/New_York")
    first_pass = utc(2026, 11, 1, 5, 10)  # 01:10 EDT
    second_pass = utc(2026, 11, 1, 6, 10)  # 01:10 EST
    assert next_fire_after(schedule, first_pass) == utc(2026, 11, 1, 6, 5)  # 01:05 EST
    assert next_fire_after(schedule, second_pass) == utc(2026, 11, 1, 7, 5)  # 02:05 EST


def test_one_shot_in_a_skipped_hour_fires_at_the_jump() -> None:
    """It reads a skipped wall time of a one-shot as the instant the clock jumps."""
    assert parse("on 2026-03-29 at 01:30", "Europe/Lisbon").run_at == utc(2026, 3, 29, 1)


def test_sao_paulo_keeps_one_offset_today() -> None:
    """It applies -03:00 all year in São Paulo now that Brazil has no DST."""
    times = next_fire_times(parse("todo dia às 8h", "America/Sao_Paulo"), 365, after=utc(2026, 1, 1))
    assert {time.astimezone(ZoneInfo("America/Sao_Paulo")).utcoffset() for time in times} == {
        timedelta(hours=-3)
    }
    assert all(time.hour == 11 and time.minute == 0 for time in times)


_TRANSITIONS = [
    ("America/Sao_Paulo", utc(2018, 11, 4, 3)),
    ("America/Sao_Paulo", utc(2019, 2, 17, 2)),
    ("America/New_York", utc(2026, 3, 8, 7)),
    ("America/New_York", utc(2026, 11, 1, 6)),
    ("Europe/Lisbon", utc(2026, 3, 29, 1)),
    ("Europe/Lisbon", utc(2026, 10, 25, 1)),
]


def _reference(cron: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Fire instants by brute force, minute by minute, from the rules stated in ``fire_times``."""
    tz = ZoneInfo(zone)
    every_hour = cron.split()[1] == "*"
    fired: list[datetime] = []
    instant = start
    while instant < end:
        local = instant.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        if croniter.match(cron, wall):
            first_pass = local.utcoffset() == wall.replace(tzinfo=tz).utcoffset()
            if every_hour or first_pass:
                fired.append(instant)
        previous = (instant - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
        skipped = wall - previous - timedelta(minutes=1)
        if skipped > timedelta(0) and not every_hour:
            # The clock jumped at this instant: fire once for any skipped wall time that matches.
            gap = [
                previous + timedelta(minutes=step)
                for step in range(1, int(skipped / timedelta(minutes=1)) + 1)
            ]
            if any(croniter.match(cron, moment) for moment in gap) and (not fired or fired[-1] != instant):
                fired.append(instant)
        instant += timedelta(minutes=1)
    return fired


@pytest.mark.parametrize(
    ("zone", "transition"), _TRANSITIONS, ids=[f"{z}-{t:%Y-%m}" for z, t in _TRANSITIONS]
)
@pytest.mark.parametrize(
    "cron",
    [
        "30 * * * *",
        "*/20 * * * *",
        "0 0-3 * * *",
        "30 1 * * *",
        "30 2 * * *",
        "0,30 23 * * *",
        "15 0 * * *",
        "*/30 1-2 * * *",
    ],
)
def test_matches_brute_force_reference(zone: str, transition: datetime, cron: str) -> None:
    """It fires exactly where a minute-by-minute scan of the wall clock says, around each transition."""
    start, end = transition - timedelta(hours=4), transition + timedelta(hours=4)
    expected = _reference(cron, zone, start, end)
    schedule = parse(cron, zone)
    actual = [
        time
        for time in next_fire_times(schedule, len(expected) + 1, after=start - timedelta(seconds=1))
        if time < end
    ]
    assert actual == expected
