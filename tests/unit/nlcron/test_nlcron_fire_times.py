"""Fire times: strictly-after semantics, seconds, one-shots and DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronoflow.nlcron import Schedule, describe, next_fire_after, next_fire_times, parse


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_next_fire_is_strictly_after() -> None:
    """It never returns the instant it was asked about."""
    schedule = parse("0 9 * * *", "UTC")
    assert next_fire_after(schedule, utc(2026, 1, 1, 9)) == utc(2026, 1, 2, 9)
    assert next_fire_after(schedule, utc(2026, 1, 1, 8, 59, 59)) == utc(2026, 1, 1, 9)


def test_six_field_cron_honours_seconds() -> None:
    """It fires six-field crons on their seconds (seconds-first convention)."""
    schedule = parse("*/10 * * * * *", "UTC")
    assert next_fire_times(schedule, 3, after=utc(2026, 1, 1, 0, 0, 5)) == [
        utc(2026, 1, 1, 0, 0, 10),
        utc(2026, 1, 1, 0, 0, 20),
        utc(2026, 1, 1, 0, 0, 30),
    ]


def test_one_shot_fires_once() -> None:
    """It returns run_at while it is ahead, then nothing."""
    schedule = parse("2026-05-01T10:00:00Z", "UTC")
    assert next_fire_after(schedule, utc(2026, 5, 1, 9)) == utc(2026, 5, 1, 10)
    assert next_fire_after(schedule, utc(2026, 5, 1, 10)) is None
    assert next_fire_times(schedule, 5, after=utc(2026, 1, 1)) == [utc(2026, 5, 1, 10)]


def test_string_is_parsed_in_the_given_zone() -> None:
    """It accepts a string and reads it in ``tz``."""
    assert next_fire_times("0 8 * * *", 2, tz="America/Sao_Paulo", after=utc(2026, 3, 1)) == [
        utc(2026, 3, 1, 11),
        utc(2026, 3, 2, 11),
    ]


def test_tz_overrides_the_schedule_zone() -> None:
    """It previews a parsed schedule in another zone when asked."""
    schedule = parse("0 8 * * *", "UTC")
    assert next_fire_times(schedule, 1, tz="Europe/Lisbon", after=utc(2026, 7, 1)) == [utc(2026, 7, 1, 7)]


def test_naive_after_is_utc() -> None:
    """It reads a naive ``after`` as UTC (SQLite returns naive datetimes)."""
    schedule = parse("0 9 * * *", "UTC")
    assert next_fire_after(schedule, datetime(2026, 1, 1, 8)) == utc(2026, 1, 1, 9)


@pytest.mark.parametrize(
    ("zone", "cron", "after", "expected"),
    [
        pytest.param(
            "America/New_York",
            "30 2 * * *",
            utc(2024, 3, 9, 12),
            [utc(2024, 3, 10, 7), utc(2024, 3, 11, 6, 30)],
            id="ny-skipped-0230-fires-once-at-jump",
        ),
        pytest.param(
            "America/New_York",
            "30 1 * * *",
            utc(2024, 11, 2, 12),
            [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)],
            id="ny-repeated-0130-fires-once",
        ),
        pytest.param(
            "America/New_York",
            "30 * * * *",
            utc(2024, 11, 3, 4),
            [
                utc(2024, 11, 3, 4, 30),
                utc(2024, 11, 3, 5, 30),
                utc(2024, 11, 3, 6, 30),
                utc(2024, 11, 3, 7, 30),
            ],
            id="ny-hourly-keeps-rhythm-in-fall-back",
        ),
        pytest.param(
            "America/New_York",
            "30 * * * *",
            utc(2024, 3, 10, 5),
            [utc(2024, 3, 10, 5, 30), utc(2024, 3, 10, 6, 30), utc(2024, 3, 10, 7, 30)],
            id="ny-hourly-keeps-rhythm-in-spring-forward",
        ),
    ],
)
def test_dst_transitions(zone: str, cron: str, after: datetime, expected: list[datetime]) -> None:
    """It fires skipped fixed times once at the jump and repeated fixed times once."""
    assert next_fire_times(parse(cron, zone), len(expected), after=after) == expected


def test_stored_one_shot_with_naive_instant() -> None:
    """It treats a naive stored ``run_at`` as UTC (SQLite drops the zone) when firing and describing."""
    schedule = Schedule("in 10 min", "America/Sao_Paulo", None, datetime(2026, 5, 1, 13, 0))
    assert next_fire_after(schedule, utc(2026, 5, 1, 12)) == utc(2026, 5, 1, 13)
    assert describe(schedule, "pt-BR") == "uma vez em 01/05/2026 às 10:00 (America/Sao_Paulo)"


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        pytest.param(
            "todo último dia do mês às 18h",
            [utc(2026, 1, 31, 21), utc(2026, 2, 28, 21), utc(2026, 3, 31, 21)],
            id="last-day-of-month",
        ),
        pytest.param(
            "the first monday of the month at 9",
            [utc(2026, 2, 2, 12), utc(2026, 3, 2, 12), utc(2026, 4, 6, 12)],
            id="first-monday",
        ),
    ],
)
def test_month_shapes_fire_on_the_right_days(phrase: str, expected: list[datetime]) -> None:
    """It fires ``L`` on each month's last day and ``#1`` on the first such weekday."""
    schedule = parse(phrase, "America/Sao_Paulo")
    assert next_fire_times(schedule, 3, after=utc(2026, 1, 20)) == expected
