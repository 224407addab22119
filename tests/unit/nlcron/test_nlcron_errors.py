"""Errors: unreadable text is quoted with a suggestion; out-of-range values are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronoflow.nlcron import ScheduleError, parse

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phrase", "fragment"),
    [
        pytest.param("todo dia às 25h", "25h", id="hour-25"),
        pytest.param("every day at 24:00", "24:00", id="hour-24"),
        pytest.param("every day at 9:61", "9:61", id="minute-61"),
        pytest.param("every day at 13pm", "13pm", id="13pm"),
        pytest.param("todo dia às 15 da manhã", "15 da manhã", id="15-da-manha"),
        pytest.param("every 0 minutes", "every 0 minutes", id="every-0-minutes"),
        pytest.param("a cada 0 horas", "a cada 0 horas", id="a-cada-0-horas"),
        pytest.param("in 0 min", "in 0 min", id="in-0-min"),
        pytest.param("dia 31/02", "dia 31/02", id="dia-31-02"),
        pytest.param("on 2026-02-29 at 9", "on 2026-02-29", id="not-a-leap-year"),
        pytest.param("em 10/13 às 9h", "em 10/13", id="month-13"),
        pytest.param("todo dia 32 às 9h", "todo dia 32", id="day-32"),
        pytest.param("todo dia 31/02 às 9h", "todo dia 31/02", id="yearly-31-02"),
    ],
)
def test_out_of_range_is_refused(phrase: str, fragment: str) -> None:
    """It refuses out-of-range values and quotes them as written, never clamping."""
    with pytest.raises(ScheduleError) as caught:
        parse(phrase, "America/Sao_Paulo", NOW)
    assert caught.value.fragment == fragment
    assert f'"{fragment}"' in caught.value.message


@pytest.mark.parametrize(
    ("phrase", "suggestion"),
    [
        pytest.param("every 7 minutes", "every 6 minutes", id="7-minutes"),
        pytest.param("every 45 minutes", "every 30 minutes", id="45-minutes"),
        pytest.param("every 5 hours", "every 4 hours", id="5-hours"),
        pytest.param("every 2 days", "every day", id="2-days"),
        pytest.param("every 2 weeks", "every week", id="2-weeks"),
        pytest.param("a cada 7 minutos", "a cada 6 minutos", id="pt-7-minutos"),
        pytest.param("a cada 2 semanas", "toda semana", id="pt-2-semanas"),
        pytest.param("a cada 5 minutos às 9h", "a cada 15 minutos das 8h às 18h", id="pt-interval-with-time"),
        pytest.param("em 0 minutos", "em 10 minutos", id="pt-zero-delay"),
    ],
)
def test_rhythm_a_cron_cannot_keep_is_refused(phrase: str, suggestion: str) -> None:
    """It refuses intervals a cron step would make irregular, and offers the nearest regular one."""
    with pytest.raises(ScheduleError) as caught:
        parse(phrase, now=NOW)
    assert caught.value.suggestion == suggestion
    assert caught.value.message.endswith(f'did you mean "{suggestion}"?')


@pytest.mark.parametrize(
    ("phrase", "fragment", "suggestion"),
    [
        pytest.param("evry monday at 9", "evry", "every monday at 9", id="typo-every"),
        pytest.param("every mondey at 9", "every mondey", "every monday at 9", id="typo-monday"),
        pytest.param("toda sexxta às 9h", "toda sexxta", "toda sexta às 9h", id="typo-sexta"),
        pytest.param("toda terçaa às 9h", "toda terçaa", "toda terça às 9h", id="typo-keeps-accents"),
        pytest.param("dailly at 9", "dailly", "daily at 9", id="typo-daily"),
        pytest.param("at 9", "at 9", "every day at 9", id="time-without-days"),
        pytest.param("às 9h", "às 9h", "todo dia às 9h", id="pt-time-without-days"),
        pytest.param("tomorrow", "tomorrow", "tomorrow at 9", id="date-without-time"),
        pytest.param("dia 15 às 10h", "dia 15", "todo dia 15", id="day-without-month-word"),
    ],
)
def test_unreadable_is_quoted_with_a_suggestion(phrase: str, fragment: str, suggestion: str) -> None:
    """It quotes the part it could not use and suggests the nearest supported form."""
    with pytest.raises(ScheduleError) as caught:
        parse(phrase, now=NOW)
    assert caught.value.fragment == fragment
    assert caught.value.suggestion == suggestion
    assert f'"{fragment}"' in caught.value.message
    assert f'did you mean "{suggestion}"?' in caught.value.message


@pytest.mark.parametrize(
    "phrase",
    [
        pytest.param("blah", id="nonsense"),
        pytest.param("every", id="dangling-every"),
        pytest.param("every 5 minutes every 10 minutes", id="two-intervals"),
        pytest.param("every 5 minutes at 9", id="interval-with-time"),
        pytest.param("between 8 and 18", id="window-without-interval"),
        pytest.param("every 15 minutes between 8:30 and 18", id="window-off-the-hour"),
        pytest.param("tomorrow at 9 every monday", id="one-shot-and-recurring"),
        pytest.param("every day at 9:00 and 18:30", id="times-a-cron-cannot-hold"),
        pytest.param("on the 1st of every month on mondays", id="dom-and-dow"),
        pytest.param("every other monday", id="every-other-monday"),
        pytest.param("in 1 month", id="relative-months"),
        pytest.param("hourly at :75", id="minute-75"),
    ],
)
def test_meaningless_combinations_are_refused(phrase: str) -> None:
    """It refuses phrases a cron cannot express rather than guessing."""
    with pytest.raises(ScheduleError) as caught:
        parse(phrase, now=NOW)
    assert caught.value.message
    assert caught.value.fragment
