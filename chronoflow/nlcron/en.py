"""English vocabulary of the schedule grammar.

Words are written in normalized form (lower case, no accents); ``grammar`` turns these tables
into regular expressions, so adding a synonym is a one-line change here and needs no new rule.
"""

from __future__ import annotations

DAYS: dict[str, int] = {
    "sunday": 0, "sundays": 0, "sun": 0,
    "monday": 1, "mondays": 1, "mon": 1,
    "tuesday": 2, "tuesdays": 2, "tues": 2, "tue": 2,
    "wednesday": 3, "wednesdays": 3, "wed": 3,
    "thursday": 4, "thursdays": 4, "thurs": 4, "thur": 4, "thu": 4,
    "friday": 5, "fridays": 5, "fri": 5,
    "saturday": 6, "saturdays": 6, "sat": 6,
}  # fmt: skip
"""Weekday names and abbreviations; Sunday is 0 as in cron."""

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip

UNITS: dict[str, str] = {
    "s": "second", "sec": "second", "secs": "second", "second": "second", "seconds": "second",
    "m": "minute", "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day",
    "w": "week", "wk": "week", "wks": "week", "week": "week", "weeks": "week",
    "month": "month", "months": "month", "year": "year", "years": "year",
}  # fmt: skip
"""Duration and interval units, by the unit they stand for."""

NUMBERS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "other": 2,
}  # fmt: skip
"""Spelled-out counts (``every two hours``, ``in an hour``, ``every other hour``)."""

ORDINALS: dict[str, int] = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
}  # fmt: skip
"""Which weekday of the month (``the first monday``); cron's ``#n``."""

PERIODS: dict[str, str] = {
    "in the morning": "am", "morning": "am", "in the afternoon": "pm", "afternoon": "pm",
    "in the evening": "pm", "evening": "pm", "at night": "night", "night": "night",
}  # fmt: skip
"""Words after an hour that say which half of the day it is in."""

NAMED_TIMES: dict[str, int] = {"noon": 12, "midday": 12, "midnight": 0}
"""Times of day spoken as words, by hour."""

AT = ("at around", "at", "around", "by", "@")
EVERY = ("every", "each")
DAILY = ("daily", "everyday", "every day", "each day", "every single day")
DAILY_AM = ("every morning", "each morning")
DAILY_PM = ("every evening", "each evening", "every afternoon", "every night", "each night", "nightly")
HOURLY = ("hourly", "every hour", "each hour")
WEEKLY = ("weekly",)
MONTHLY = (
    "monthly",
    "of every month",
    "of each month",
    "of the month",
    "every month",
    "each month",
    "per month",
    "a month",
)
YEARLY = ("yearly", "annually", "every year", "each year")
WEEKDAYS = ("weekdays", "weekday", "week days", "business days", "business day", "working days", "workdays")
WEEKENDS = ("weekends", "weekend", "week-ends")
DAY_PREFIX = ("every", "each", "on", "on the", "during", "only on", "the")
RANGE_SEP = ("to", "through", "thru", "until", "-")
LIST_SEP = ("and", "&", ",", "/", ", and", "or")
WINDOW_START = ("between", "from")
WINDOW_SEP = ("and", "to", "until", "till", "through", "-")
RELATIVE_PREFIX = ("in", "within", "after")
RELATIVE_SUFFIX = ("from now", "later")
DAY_OFFSETS: dict[str, int] = {
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
}
NEXT = ("next", "this", "this coming", "coming")
NOW = ("now", "right now", "immediately", "asap")
DATE_PREFIX = ("on", "for", "on the")
DOM_PREFIX = (
    "on the",
    "on day",
    "on days",
    "on",
    "the",
    "day",
    "days",
    "every",
    "each",
    "every month on the",
    "every month on day",
    "monthly on the",
    "monthly on day",
)
LAST_DAY = ("last day", "the last day", "last")
HALF_HOUR = ("half an hour", "half hour", "half-hour", "30 minutes")
MINUTE_OFFSET = ("at minute", "minute", "at :", ":")
PAST_HOUR = ("past the hour", "past", "minutes past the hour", "minutes past")

EXAMPLES = (
    "in 10 min",
    "in 2 hours",
    "tomorrow at 9",
    "today at 18:30",
    "on 2026-12-24 at 20:00",
    "every 5 minutes",
    "every hour",
    "every 2 hours",
    "daily at 07:30",
    "every day at 9 and 18",
    "every monday at 9",
    "weekdays at 8am",
    "on weekends at 10",
    "mon,wed,fri at 9",
    "every month on the 1st at 10:00",
    "on the 15th of every month",
    "every 15 minutes between 8 and 18 on weekdays",
)
"""Canonical phrasings: the nearest one is offered when nothing closer can be found."""
