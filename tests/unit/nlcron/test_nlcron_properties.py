"""Properties: whatever ``parse`` returns, croniter runs and ``describe`` explains."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from chronoflow.nlcron import ScheduleError, describe, next_fire_after, next_fire_times, parse
from chronoflow.nlcron.cronexpr import ALIASES

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
ZONES = st.sampled_from(["UTC", "America/Sao_Paulo", "America/New_York", "Europe/Lisbon", "Asia/Kolkata"])

_hours = st.integers(0, 23)
_minutes = st.sampled_from([0, 5, 15, 30, 45, 59])


@st.composite
def clock_times(draw: st.DrawFn) -> str:
    hour, minute = draw(_hours), draw(_minutes)
    styles = [f"{hour:02d}:{minute:02d}", f"{hour}:{minute:02d}"]
    if minute == 0:
        styles += [f"{hour}h", f"{hour}"]
        if 1 <= hour <= 12:
            styles += [f"{hour}am", f"{hour} pm", f"{hour} da manhã", f"{hour} da noite"]
    else:
        styles.append(f"{hour}h{minute:02d}")
    return draw(st.sampled_from(styles))


_DAY_PHRASES = st.sampled_from([
    "every day", "daily", "todo dia", "todos os dias", "diariamente", "weekdays", "on weekends",
    "every monday", "toda segunda", "mon,wed,fri", "segunda, quarta e sexta", "dias úteis",
    "fins de semana", "de segunda a sexta", "every month on the 1st", "todo dia 15",
    "on the 1st and 15th of every month", "the first monday of the month", "todo último dia do mês",
    "aos sábados", "tuesdays and thursdays", "every 3 months on the 1st", "todo dia 25/12",
])  # fmt: skip
_INTERVALS = st.sampled_from([
    "every 5 minutes", "every minute", "every hour", "every 2 hours", "hourly", "every 30 seconds",
    "a cada 15 minutos", "de hora em hora", "a cada 6 horas", "de 10 em 10 minutos", "a cada meia hora",
    "every 20 seconds", "every 12 hours", "every hour at :15",
])  # fmt: skip
_WINDOWS = st.sampled_from(["between 8 and 18", "from 9am to 5pm", "das 8h às 18h", "entre 22h e 6h", ""])
_WINDOW_DAYS = st.sampled_from(["", "on weekdays", "em dias úteis", "on mondays", "nos fins de semana"])


@st.composite
def recurring_phrases(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        day = draw(_DAY_PHRASES)
        times = draw(st.lists(clock_times(), min_size=1, max_size=1))
        at = draw(st.sampled_from(["at", "às"]))
        return f"{day} {at} {times[0]}" if draw(st.booleans()) else f"{at} {times[0]} {day}"
    interval = draw(_INTERVALS)
    window = draw(_WINDOWS) if ":" not in interval else ""
    return " ".join(part for part in (interval, window, draw(_WINDOW_DAYS)) if part)


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        value.map(str),
        st.tuples(value, value).map(lambda pair: f"{min(pair)}-{max(pair)}"),
        st.integers(1, max(1, (high - low) // 2)).map(lambda step: f"*/{step}"),
        st.lists(value, min_size=2, max_size=4, unique=True).map(
            lambda items: ",".join(map(str, sorted(items)))
        ),
    )


raw_crons = st.tuples(_field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 6)).map(" ".join)
raw_crons_with_seconds = st.tuples(_field(0, 59), raw_crons).map(" ".join)


def _check(cron: str) -> None:
    six = len(cron.split()) == 6
    assert croniter.is_valid(cron, second_at_beginning=six), cron
    croniter(cron, NOW, second_at_beginning=six).get_next(datetime)


@settings(max_examples=300, deadline=None)
@given(recurring_phrases(), ZONES)
def test_every_phrase_gives_a_cron_croniter_runs(phrase: str, zone: str) -> None:
    """It emits only crons croniter accepts, and describes each in both languages."""
    schedule = parse(phrase, zone, NOW)
    assert schedule.cron is not None, phrase
    _check(schedule.cron)
    assert describe(schedule, "en") and describe(schedule, "pt-BR")
    following = next_fire_after(schedule, NOW)
    assert following is not None and following > NOW


@settings(max_examples=300, deadline=None)
@given(st.one_of(raw_crons, raw_crons_with_seconds, st.sampled_from(sorted(ALIASES))))
def test_raw_crons_round_trip(cron: str) -> None:
    """It keeps raw crons runnable by croniter, describable, and fires where croniter does (UTC)."""
    schedule = parse(cron, "UTC", NOW)
    assert schedule.cron is not None
    _check(schedule.cron)
    assert describe(schedule, "en") and describe(schedule, "pt-BR")
    six = len(schedule.cron.split()) == 6
    reference = croniter(schedule.cron, NOW, ret_type=datetime, second_at_beginning=six)
    expected = [reference.get_next(datetime).replace(tzinfo=UTC) for _ in range(3)]
    assert next_fire_times(schedule, 3, after=NOW) == expected


@settings(max_examples=200, deadline=None)
@given(recurring_phrases(), st.sampled_from(["America/New_York", "Europe/Lisbon", "America/Sao_Paulo"]),
       st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2030, 1, 1)))  # fmt: skip
def test_fire_times_increase_and_never_repeat(phrase: str, zone: str, after: datetime) -> None:
    """It returns strictly increasing instants after ``after``, whatever the zone and date."""
    schedule = parse(phrase, zone, NOW)
    start = after.replace(tzinfo=UTC)
    times = next_fire_times(schedule, 4, after=start)
    assert times and times[0] > start
    assert all(earlier < later for earlier, later in itertools.pairwise(times))
    assert all(time.tzinfo is UTC for time in times)
    assert times[-1] - start < timedelta(days=4 * 366)


_WORDS = st.sampled_from([
    "every", "at", "às", "as", "todo", "toda", "dia", "dias", "de", "a", "cada", "em", "in", "on", "the",
    "monday", "segunda", "sexta", "weekdays", "úteis", "minutes", "min", "h", "horas", "9", "18", "0",
    "25", "31/02", "24/12", "2026-12-24", "8am", "7:30", "between", "and", "e", "das", "mês", "1st",
    "hourly", ",", "-", "next", "tomorrow", "amanhã", "hoje", "@daily", "*", "*/5", "L", "#", "99",
])  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.lists(_WORDS, min_size=1, max_size=7).map(" ".join), st.text(max_size=30)))
def test_anything_else_fails_cleanly(text: str) -> None:
    """It answers any input with a schedule or a ScheduleError, never another exception."""
    try:
        schedule = parse(text, "America/Sao_Paulo", NOW)
    except ScheduleError as error:
        assert error.message
        return
    if schedule.cron is not None:
        _check(schedule.cron)
    assert describe(schedule, "en") and describe(schedule, "pt-BR")


_DST_CRONS = st.sampled_from(["30 2 * * *", "*/5 * * * *", "0 * * * *", "15 1,2,3 * * *", "0 0 1 1 *",
                              "0 9 * * 1-5", "*/20 * * * * *"])


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(["UTC", "America/New_York", "Europe/Lisbon", "America/Sao_Paulo",
                          "Australia/Lord_Howe"]),
    cron=_DST_CRONS,
    start=st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 11, 30)),
    steps=st.lists(st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)),
                   min_size=1, max_size=12),
)
def test_kept_answers_match_a_fresh_search(zone: str, cron: str, start: datetime,
                                           steps: list[timedelta | None]) -> None:
    """Asked again from a later instant (or from the fire it last found: ``None``), ``next_cron_after``
    answers what a fresh search finds, DST days included."""
    from chronoflow.nlcron.fire_times import next_cron_after, search_cron_after

    moment = start.replace(tzinfo=UTC)
    found = None
    for step in steps:
        moment = found if step is None and found is not None else moment + (step or timedelta(0))
        found = next_cron_after(cron, zone, moment)
        assert found == search_cron_after(cron, zone, moment)
