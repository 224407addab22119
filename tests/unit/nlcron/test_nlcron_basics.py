"""Raw crons, aliases, ISO date-times, simple relative phrases and the error type."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from chronoflow.nlcron import Schedule, ScheduleError, parse

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "cron"),
    [
        pytest.param("0 8 * * *", "0 8 * * *", id="five-fields"),
        pytest.param("  */5   *  * * * ", "*/5 * * * *", id="extra-spaces"),
        pytest.param("*/10 * * * * *", "*/10 * * * * *", id="six-fields-seconds-first"),
        pytest.param("0 9 * * MON-FRI", "0 9 * * mon-fri", id="names-lower-cased"),
        pytest.param("0 0 L * *", "0 0 l * *", id="last-day"),
        pytest.param("0 9 * * mon#1", "0 9 * * mon#1", id="nth-weekday"),
        pytest.param("@daily", "0 0 * * *", id="daily-alias"),
        pytest.param("@HOURLY", "0 * * * *", id="hourly-alias"),
        pytest.param("@weekly", "0 0 * * 0", id="weekly-alias"),
        pytest.param("@monthly", "0 0 1 * *", id="monthly-alias"),
        pytest.param("@yearly", "0 0 1 1 *", id="yearly-alias"),
    ],
)
def test_raw_cron_is_normalized(expression: str, cron: str) -> None:
    """It accepts raw crons and aliases and returns one normalized spelling."""
    schedule = parse(expression, "America/Sao_Paulo", NOW)
    assert schedule == Schedule(expression, "America/Sao_Paulo", cron, None)
    assert schedule.is_recurring


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("61 * * * *", id="minute-61"),
        pytest.param("0 24 * * *", id="hour-24"),
        pytest.param("0 0 0 * *", id="day-0"),
        pytest.param("0 0 * 13 *", id="month-13"),
        pytest.param("*/0 * * * *", id="step-0"),
        pytest.param("0 0 30 2 *", id="never-fires"),
        pytest.param("5-1 * * * *", id="backwards-range"),
        pytest.param("@fortnightly", id="unknown-alias"),
    ],
)
def test_raw_cron_out_of_range_is_an_error(expression: str) -> None:
    """It refuses out-of-range fields instead of clamping them."""
    with pytest.raises(ScheduleError):
        parse(expression, now=NOW)


@pytest.mark.parametrize(
    ("expression", "timezone", "run_at"),
    [
        pytest.param(
            "2026-11-22T10:00:00.123Z", "UTC", datetime(2026, 11, 22, 10, 0, 0, 123000, UTC), id="z"
        ),
        pytest.param(
            "2026-11-22T10:00:00+03:00",
            "America/Sao_Paulo",
            datetime(2026, 11, 22, 7, 0, tzinfo=UTC),
            id="offset",
        ),
        pytest.param(
            "2026-11-22T10:00", "America/Sao_Paulo", datetime(2026, 11, 22, 13, 0, tzinfo=UTC), id="local"
        ),
        pytest.param(
            "2026-11-22 10:00:00", "Europe/Lisbon", datetime(2026, 11, 22, 10, 0, tzinfo=UTC), id="space"
        ),
        pytest.param("2020-01-01T00:00:00Z", "UTC", datetime(2020, 1, 1, tzinfo=UTC), id="past-kept"),
    ],
)
def test_iso_datetime_is_a_one_shot(expression: str, timezone: str, run_at: datetime) -> None:
    """It reads ISO date-times as one-shots, in the zone unless they carry an offset."""
    schedule = parse(expression, timezone, NOW)
    assert schedule.run_at == run_at
    assert schedule.cron is None and not schedule.is_recurring
    assert schedule.timezone == timezone


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        pytest.param("in 10 min", 600, id="in-10-min"),
        pytest.param("10 min", 600, id="10-min"),
        pytest.param("6h", 6 * 3600, id="6h"),
        pytest.param("in 2 hours", 7200, id="in-2-hours"),
        pytest.param("em 10 minutos", 600, id="em-10-minutos"),
        pytest.param("daqui a 2 horas", 7200, id="daqui-a-2-horas"),
    ],
)
def test_relative_counts_from_now(expression: str, seconds: int) -> None:
    """It counts relative phrases from the ``now`` it is given."""
    schedule = parse(expression, "America/New_York", NOW)
    assert schedule.run_at is not None
    assert (schedule.run_at - NOW).total_seconds() == seconds
    assert schedule.run_at.tzinfo is UTC


def test_unknown_zone_is_named() -> None:
    """It refuses an unknown IANA zone and names it in the message."""
    with pytest.raises(ScheduleError, match="Mars/Olympus"):
        parse("0 8 * * *", "Mars/Olympus", NOW)


def test_error_survives_pickling() -> None:
    """It keeps message, fragment and suggestion across processes (RQ pickles exceptions)."""
    error = ScheduleError('could not read "x"', "x", "every day at 9")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.fragment, copy.suggestion) == (error.message, "x", "every day at 9")
    assert isinstance(copy, ValueError)


def test_empty_string_is_an_error() -> None:
    """It refuses an empty schedule."""
    with pytest.raises(ScheduleError):
        parse("   ", now=NOW)


def test_public_surface() -> None:
    """It exports exactly the names the scheduling core relies on."""
    from chronoflow import nlcron

    assert sorted(nlcron.__all__) == sorted(
        ["Schedule", "ScheduleError", "describe", "next_fire_after", "next_fire_times", "parse"]
    )
    assert all(hasattr(nlcron, name) for name in nlcron.__all__)
