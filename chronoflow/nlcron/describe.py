"""Schedules back into words, in English and Brazilian Portuguese.

The description is built from the *cron*, not from the phrase the user typed, so it says what
will actually run: ``every 15 minutes between 8 and 18`` is described as ``every 15 minutes
from 08:00 to 17:45``. Common shapes (intervals, lists of times, weekdays, days of the month)
get natural sentences; any other cron falls back to a plain listing of its fields, so every
cron ``parse`` returns has a description.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from chronoflow.nlcron.cronexpr import CronExpr, CronField, compile_cron, runs
from chronoflow.nlcron.fire_times import as_utc, zone
from chronoflow.nlcron.schedule import Schedule

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "and": "and", "once": "once on {date} at {time} ({zone})", "at": "at {times}",
        "every_second": "every second", "every_n_seconds": "every {n} seconds",
        "every_minute": "every minute", "every_n_minutes": "every {n} minutes",
        "every_hour": "every hour", "every_n_hours": "every {n} hours", "past": "at :{minute}",
        "window": "from {start} to {end}", "on_second": "at second {second}",
        "every_day": "every day", "weekdays": "every weekday", "weekends": "on weekends",
        "on_weekdays": "on weekdays", "on_weekends": "on weekends",
        "every_dow": "every {days}", "on_dows": "on {days}", "nth": "on the {items} of the month",
        "dom": "on the {days} of every month", "dom_months": "on the {days} of {months}", "last": "last day", "or": "{a} or {b}", "both": "{a}, if also {b}",
        "months": "in {months}", "yearly": "every year on {month} {day}",
        "minutes_of": "at minute {minutes} past hour {hours}",
    },
    "pt-BR": {
        "and": "e", "once": "uma vez em {date} às {time} ({zone})", "at": "às {times}",
        "every_second": "a cada segundo", "every_n_seconds": "a cada {n} segundos",
        "every_minute": "a cada minuto", "every_n_minutes": "a cada {n} minutos",
        "every_hour": "de hora em hora", "every_n_hours": "a cada {n} horas", "past": "no minuto {minute}",
        "window": "das {start} às {end}", "on_second": "no segundo {second}",
        "every_day": "todo dia", "weekdays": "todo dia útil", "weekends": "nos fins de semana",
        "on_weekdays": "em dias úteis", "on_weekends": "nos fins de semana",
        "every_dow": "{every} {days}", "on_dows": "{every} {days}", "nth": "na {items} do mês",
        "dom": "todo dia {days}", "dom_months": "todo dia {days} de {months}", "last": "último dia", "or": "{a} ou {b}", "both": "{a}, se também {b}",
        "months": "em {months}", "yearly": "todo ano em {day} de {month}",
        "minutes_of": "no minuto {minutes} das horas {hours}",
    },
}  # fmt: skip
"""Sentence templates per language."""

_DAYS = {
    "en": ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"),
    "pt-BR": ("domingo", "segunda", "terça", "quarta", "quinta", "sexta", "sábado"),
}
_MONTHS = {
    "en": ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"),
    "pt-BR": ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
              "outubro", "novembro", "dezembro"),
}  # fmt: skip
_NTH = {
    "en": ("", "first", "second", "third", "fourth", "fifth"),
    "pt-BR": ("", "primeira", "segunda", "terceira", "quarta", "quinta"),
}
_LANGS = {"en": "en", "en-us": "en", "en-gb": "en", "pt-br": "pt-BR", "pt": "pt-BR", "pt_br": "pt-BR"}


def _join(items: list[str], lang: str) -> str:
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {_WORDS[lang]['and']} {items[-1]}"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _clock(hour: int, minute: int, second: int = 0) -> str:
    return f"{hour:02d}:{minute:02d}:{second:02d}" if second else f"{hour:02d}:{minute:02d}"


def _step(field: CronField, low: int, high: int) -> int | None:
    """The step ``n`` when the field is exactly ``low, low+n, ...`` up to ``high``, else None."""
    values = sorted(field.values)
    if len(values) < 2 or values[0] != low:
        return None
    step = values[1] - values[0]
    return step if values == list(range(low, high + 1, step)) and high - values[-1] < step else None


def _contiguous(values: list[int]) -> bool:
    return values == list(range(values[0], values[-1] + 1))


def _cyclic(hours: list[int]) -> list[int] | None:
    """The hours in clock order when they form one unbroken stretch, even across midnight."""
    if _contiguous(hours):
        return hours
    for index in range(1, len(hours)):
        rotated = hours[index:] + hours[:index]
        if rotated[0] - rotated[-1] != 1 and all((b - a) % 24 == 1 for a, b in itertools.pairwise(rotated)):
            return rotated
    return None


def _ranges(values: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``: a list as a reader says it."""
    return ", ".join(f"{first}-{last}" if last > first else str(first) for first, last in runs(values))


def _time_part(expr: CronExpr, lang: str) -> tuple[str, bool]:
    """Describe the time of day; the flag says whether it repeats within the day."""
    words = _WORDS[lang]
    seconds, minutes, hours = sorted(expr.second.values), sorted(expr.minute.values), sorted(expr.hour.values)
    all_hours = len(hours) == 24
    count = len(seconds) * len(minutes) * len(hours)
    stepped = "/" in expr.second.text or "/" in expr.minute.text or "/" in expr.hour.text
    if len(seconds) == 1 and count <= 6 and not stepped:
        times = [_clock(h, m, seconds[0]) for h in hours for m in minutes]
        return words["at"].format(times=_join(times, lang)), False
    window = ""
    cyclic = _cyclic(hours)
    if not all_hours and cyclic is not None:
        window = " " + words["window"].format(
            start=_clock(cyclic[0], minutes[0], seconds[0]), end=_clock(cyclic[-1], minutes[-1], seconds[-1])
        )
    second_step = _step(expr.second, 0, 59) if len(seconds) > 1 else None
    if (len(seconds) == 60 or second_step) and len(minutes) == 60 and (all_hours or window):
        every = (
            words["every_second"] if len(seconds) == 60 else words["every_n_seconds"].format(n=second_step)
        )
        return every + window, True
    if len(seconds) == 1:
        at_second = f" {words['on_second'].format(second=seconds[0])}" if seconds[0] else ""
        minute_step = _step(expr.minute, 0, 59)
        if (len(minutes) == 60 or minute_step) and (all_hours or window):
            phrase = (
                words["every_minute"]
                if len(minutes) == 60
                else words["every_n_minutes"].format(n=minute_step)
            )
            return phrase + at_second + window, True
        if len(minutes) == 1:
            past = f" {words['past'].format(minute=f'{minutes[0]:02d}')}" if minutes[0] else ""
            if all_hours:
                return words["every_hour"] + past + at_second, True
            hour_step = _step(expr.hour, 0, 23)
            if hour_step:
                return words["every_n_hours"].format(n=hour_step) + past + at_second, True
            if _contiguous(hours):
                return words["every_hour"] + window, True
            spaced = hours[1] - hours[0]
            if hours == list(range(hours[0], hours[-1] + 1, spaced)):
                span = words["window"].format(
                    start=_clock(hours[0], minutes[0]), end=_clock(hours[-1], minutes[0])
                )
                return f"{words['every_n_hours'].format(n=spaced)} {span}", True
    second_text = f"{words['on_second'].format(second=_ranges(seconds))}, " if seconds != [0] else ""
    return second_text + words["minutes_of"].format(minutes=_ranges(minutes), hours=_ranges(hours)), True


def _dow_names(days: list[int], lang: str) -> tuple[str, str]:
    names = _DAYS[lang]
    if lang == "en":
        return "", _join([names[day] for day in days], lang)
    # Portuguese agrees "todo"/"toda" with the first day: "todo sábado", "toda segunda e sexta".
    return ("todo" if days[0] in (0, 6) else "toda"), _join([names[day] for day in days], lang)


def _on_days(days: list[int], lang: str) -> str:
    """``on mondays and fridays`` / ``às segundas e sextas``, ``aos sábados``."""
    if lang == "en":
        return "on " + _join([f"{_DAYS['en'][day]}s" for day in days], lang)
    items: list[str] = []
    article = ""
    for day in days:
        # Weekday names are feminine ("às segundas"), Saturday and Sunday masculine ("aos sábados");
        # the article is repeated only where the gender changes.
        wanted = "aos" if day in (0, 6) else "às"
        items.append(f"{wanted} {_DAYS[lang][day]}s" if wanted != article else f"{_DAYS[lang][day]}s")
        article = wanted
    return _join(items, lang)


def _day_part(expr: CronExpr, lang: str, prefix: bool) -> str:
    """Describe the days; ``prefix`` picks "every weekday" (before a time) or "on weekdays"."""
    words = _WORDS[lang]
    # A "*"-led field (``*/2``) still restricts; only the either/both rule looks at ``star``.
    dom_set = len(expr.dom.values) < 31 or expr.dom.last
    dow_set = len(expr.dow.values) < 7 or bool(expr.dow.nth)
    month_set = len(expr.month.values) < 12
    joiner = "or" if not expr.dom.star and not expr.dow.star else "both"
    parts: list[str] = []
    if (
        dom_set
        and month_set
        and len(expr.month.values) == 1
        and len(expr.dom.values) == 1
        and not expr.dom.last
        and not dow_set
    ):
        month = _MONTHS[lang][min(expr.month.values) - 1]
        return words["yearly"].format(month=month, day=min(expr.dom.values))
    if dow_set:
        days = sorted(expr.dow.values)
        if expr.dow.nth:
            items = [f"{_NTH[lang][n]} {_DAYS[lang][day]}" for day, n in sorted(expr.dow.nth)]
            parts.append(words["nth"].format(items=_join(items, lang)))
        if days == [1, 2, 3, 4, 5]:
            parts.append(words["weekdays" if prefix else "on_weekdays"])
        elif days == [0, 6]:
            parts.append(words["weekends" if prefix else "on_weekends"])
        elif days:
            if prefix:
                every, names = _dow_names(days, lang)
                parts.append(words["every_dow"].format(every=every, days=names))
            else:
                parts.append(_on_days(days, lang))
    if dom_set:
        days_text = [(_ordinal(day) if lang == "en" else str(day)) for day in sorted(expr.dom.values)]
        if expr.dom.last:
            days_text.append(words["last"])
        if month_set and not dow_set:
            months = _join([_MONTHS[lang][month - 1] for month in sorted(expr.month.values)], lang)
            return words["dom_months"].format(days=_join(days_text, lang), months=months)
        if lang == "pt-BR" and days_text == [words["last"]]:
            parts.append("todo último dia do mês")
        else:
            parts.append(words["dom"].format(days=_join(days_text, lang)))
    if len(parts) == 2:
        text = words[joiner].format(a=parts[0], b=parts[1])
    else:
        text = parts[0] if parts else ""
    if not text:
        text = words["every_day"] if prefix else ""
    if month_set:
        months = _join([_MONTHS[lang][month - 1] for month in sorted(expr.month.values)], lang)
        text = f"{text} {words['months'].format(months=months)}".strip()
    return text


def _describe_cron(cron: str, lang: str) -> str:
    expr = compile_cron(cron)
    time_text, repeating = _time_part(expr, lang)
    if repeating:
        days = _day_part(expr, lang, prefix=False)
        return f"{time_text} {days}" if days else time_text
    return f"{_day_part(expr, lang, prefix=True)} {time_text}"


def describe(schedule: Schedule, lang: str = "en") -> str:
    """A short sentence saying when the schedule fires.

    Args:
        schedule: A parsed schedule.
        lang: ``"en"`` or ``"pt-BR"`` (case-insensitive; ``"pt"`` means ``"pt-BR"``).

    Returns:
        For example ``"every weekday at 09:00"`` or ``"todo dia útil às 09:00"``; one-shots are
        shown in the schedule's own time zone.

    Raises:
        ValueError: ``lang`` is not a supported language.
    """
    language = _LANGS.get(lang.lower())
    if language is None:
        raise ValueError(f'unsupported language "{lang}": use "en" or "pt-BR"')
    if schedule.cron is not None:
        return _describe_cron(schedule.cron, language)
    assert schedule.run_at is not None
    local: datetime = as_utc(schedule.run_at).astimezone(zone(schedule.timezone))
    date = local.strftime("%Y-%m-%d") if language == "en" else local.strftime("%d/%m/%Y")
    return _WORDS[language]["once"].format(
        date=date, time=_clock(local.hour, local.minute, local.second), zone=schedule.timezone
    )
