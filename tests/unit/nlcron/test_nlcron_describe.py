"""Descriptions: short sentences in English and Brazilian Portuguese, built from the cron."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronoflow.nlcron import describe, parse

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phrase", "english", "portuguese"),
    [
        pytest.param("weekdays at 9", "every weekday at 09:00", "todo dia útil às 09:00", id="weekdays"),
        pytest.param("todo dia às 08:00", "every day at 08:00", "todo dia às 08:00", id="daily"),
        pytest.param(
            "every day at 9 and 18",
            "every day at 09:00 and 18:00",
            "todo dia às 09:00 e 18:00",
            id="two-times",
        ),
        pytest.param("toda segunda às 9h", "every monday at 09:00", "toda segunda às 09:00", id="monday"),
        pytest.param("aos sábados às 10h", "every saturday at 10:00", "todo sábado às 10:00", id="saturday"),
        pytest.param(
            "mon,wed,fri at 9",
            "every monday, wednesday and friday at 09:00",
            "toda segunda, quarta e sexta às 09:00",
            id="day-list",
        ),
        pytest.param(
            "on weekends at 10", "on weekends at 10:00", "nos fins de semana às 10:00", id="weekends"
        ),
        pytest.param("every 5 minutes", "every 5 minutes", "a cada 5 minutos", id="minutes"),
        pytest.param("every 30 seconds", "every 30 seconds", "a cada 30 segundos", id="seconds"),
        pytest.param("hourly", "every hour", "de hora em hora", id="hourly"),
        pytest.param(
            "every hour at :15", "every hour at :15", "de hora em hora no minuto 15", id="hourly-offset"
        ),
        pytest.param("a cada 2 horas", "every 2 hours", "a cada 2 horas", id="two-hours"),
        pytest.param(
            "every 15 minutes between 8 and 18 on weekdays",
            "every 15 minutes from 08:00 to 17:45 on weekdays",
            "a cada 15 minutos das 08:00 às 17:45 em dias úteis",
            id="window",
        ),
        pytest.param(
            "every 10 minutes between 22 and 6",
            "every 10 minutes from 22:00 to 05:50",
            "a cada 10 minutos das 22:00 às 05:50",
            id="window-over-midnight",
        ),
        pytest.param(
            "a cada 5 minutos das 9h às 17h às segundas",
            "every 5 minutes from 09:00 to 16:55 on mondays",
            "a cada 5 minutos das 09:00 às 16:55 às segundas",
            id="window-monday",
        ),
        pytest.param(
            "todo dia 1 às 10h", "on the 1st of every month at 10:00", "todo dia 1 às 10:00", id="monthly"
        ),
        pytest.param(
            "on the last day of the month at 18:00",
            "on the last day of every month at 18:00",
            "todo último dia do mês às 18:00",
            id="last-day",
        ),
        pytest.param(
            "the first monday of the month at 9",
            "on the first monday of the month at 09:00",
            "na primeira segunda do mês às 09:00",
            id="first-monday",
        ),
        pytest.param(
            "todo dia 25/12 às 9h",
            "every year on december 25 at 09:00",
            "todo ano em 25 de dezembro às 09:00",
            id="yearly",
        ),
        pytest.param(
            "0 0 1 1,7 *",
            "on the 1st of january and july at 00:00",
            "todo dia 1 de janeiro e julho às 00:00",
            id="months",
        ),
        pytest.param("30 15 10 * * *", "every day at 10:15:30", "todo dia às 10:15:30", id="seconds-field"),
        pytest.param(
            "15,45 9-12 * * *",
            "at minute 15, 45 past hour 9-12",
            "no minuto 15, 45 das horas 9-12",
            id="fallback-listing",
        ),
    ],
)
def test_recurring_description(phrase: str, english: str, portuguese: str) -> None:
    """It describes what the cron will actually do, in both languages."""
    schedule = parse(phrase, "America/Sao_Paulo", NOW)
    assert describe(schedule) == english
    assert describe(schedule, "en") == english
    assert describe(schedule, "pt-BR") == portuguese


def test_one_shot_is_shown_in_its_zone() -> None:
    """It shows a one-shot's local date and time and names the zone."""
    schedule = parse("amanhã às 9h", "America/Sao_Paulo", NOW)
    assert describe(schedule) == "once on 2026-03-05 at 09:00 (America/Sao_Paulo)"
    assert describe(schedule, "pt-BR") == "uma vez em 05/03/2026 às 09:00 (America/Sao_Paulo)"


def test_language_names_are_forgiving() -> None:
    """It accepts the usual spellings of the two languages."""
    schedule = parse("weekdays at 9")
    assert describe(schedule, "pt") == describe(schedule, "PT-br") == "todo dia útil às 09:00"


def test_unknown_language_is_refused() -> None:
    """It refuses languages it cannot speak instead of answering in another one."""
    with pytest.raises(ValueError, match="fr"):
        describe(parse("hourly"), "fr")
