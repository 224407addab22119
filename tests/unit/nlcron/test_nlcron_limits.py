"""Bounds: huge counts, dates past the calendar and overlong strings are a ScheduleError, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronoflow.errors import ChronoflowError
from chronoflow.nlcron import ScheduleError, parse
from chronoflow.nlcron.compose import MAX_DELAY_DAYS
from chronoflow.nlcron.parser import LATEST_RUN_AT, MAX_EXPRESSION_CHARS

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "timezone", "words"),
    [
        pytest.param("in 999999999 days", "UTC", "too far ahead", id="in-999999999-days"),
        pytest.param("daqui a 99999999999 horas", "America/Sao_Paulo", "too far ahead", id="daqui-a-99999999999-horas"),
        pytest.param("in 99999999 hours at 9", "UTC", "too far ahead", id="delay-with-a-time"),
        pytest.param("in 5 days 9999999999999 hours", "UTC", "too far ahead", id="summed-delay"),
        pytest.param("9999-12-31T23:59:59-12:00", "UTC", "outside the supported range", id="iso-past-year-9999"),
        pytest.param("0001-01-01T00:00:00+05:00", "UTC", "outside the supported range", id="iso-before-year-1"),
        pytest.param("9999-12-31T23:59:59", "Etc/GMT+12", "outside the supported range", id="iso-in-a-zone"),
        pytest.param("on 31/12/9999 at 23:59", "Etc/GMT+12", "outside the supported range", id="phrase-date"),
        pytest.param("9999-06-01T00:00:00Z", "UTC", "before the year 9999", id="iso-in-year-9999"),
        pytest.param("every " + "9" * 5000 + " minutes", "UTC", "at most 500", id="every-5000-digits-minutes"),
    ],
)
def test_out_of_bounds_schedules_are_a_schedule_error(expression: str, timezone: str, words: str) -> None:
    """It refuses what no calendar or integer can hold with a ScheduleError saying so."""
    with pytest.raises(ScheduleError) as caught:
        parse(expression, timezone, NOW)
    assert words in caught.value.message


def test_the_longest_delay_is_accepted_and_one_day_more_is_not() -> None:
    """It reads a delay of exactly MAX_DELAY_DAYS and refuses the next day."""
    schedule = parse(f"in {MAX_DELAY_DAYS} days", "UTC", NOW)
    assert schedule.run_at == NOW + timedelta(days=MAX_DELAY_DAYS)
    with pytest.raises(ScheduleError, match="too far ahead"):
        parse(f"daqui a {MAX_DELAY_DAYS + 1} dias", "UTC", NOW)


def test_the_last_supported_instant_is_just_before_latest_run_at() -> None:
    """It accepts a one-shot a second before LATEST_RUN_AT and refuses LATEST_RUN_AT itself."""
    before = (LATEST_RUN_AT - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse(before, "UTC", NOW).run_at == LATEST_RUN_AT - timedelta(seconds=1)
    with pytest.raises(ScheduleError):
        parse(LATEST_RUN_AT.strftime("%Y-%m-%dT%H:%M:%SZ"), "UTC", NOW)


def test_length_is_checked_on_the_stripped_text() -> None:
    """It reads a schedule of MAX_EXPRESSION_CHARS characters (padding aside) and refuses one more."""
    padded = "0 8 * * *".ljust(MAX_EXPRESSION_CHARS + 100)
    assert parse(padded, "UTC", NOW).cron == "0 8 * * *"
    with pytest.raises(ScheduleError, match=f"{MAX_EXPRESSION_CHARS + 1} characters"):
        parse("x" * (MAX_EXPRESSION_CHARS + 1), "UTC", NOW)


def test_schedule_error_belongs_to_the_error_tree() -> None:
    """It is a ChronoflowError and still a ValueError."""
    assert issubclass(ScheduleError, ChronoflowError) and issubclass(ScheduleError, ValueError)
