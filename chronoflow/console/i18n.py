"""Which language and time zone a console page speaks, and how it writes dates and numbers.

The language comes from the ``cf_lang`` cookie (the switch on every page), else from
``Accept-Language``; the time zone from the ``cf_tz`` cookie the console's script sets from the
browser, else the server's ``DEFAULT_TIMEZONE``. Dates and numbers are written by Babel's CLDR
data, so "1.234" and "1,234" each appear where they belong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.numbers import format_decimal

from chronoflow.console.messages import CATALOGS

LANG_COOKIE = "cf_lang"
"""Cookie holding the chosen language tag."""
TZ_COOKIE = "cf_tz"
"""Cookie holding the browser's IANA time zone."""
DEFAULT_LOCALE = "en"


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The locale tag: the cookie's when it names a catalog, else the best ``Accept-Language`` match."""
    if cookie in CATALOGS:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("pt"):
            return "pt-BR"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def zone_or_default(name: str | None, default: str) -> ZoneInfo:
    """The browser's zone when it is a known IANA name, else ``default``."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(default)


@dataclass(frozen=True)
class Speaker:
    """One page's language and zone: what templates call ``t``, ``when`` and ``num``."""

    locale: str
    zone: ZoneInfo

    @property
    def babel_locale(self) -> str:
        return self.locale.replace("-", "_")

    def t(self, key: str, **values: Any) -> str:
        """The message ``key`` in this language, with ``{placeholders}`` filled."""
        text = CATALOGS[self.locale].get(key) or CATALOGS[DEFAULT_LOCALE][key]
        return text.format(**values) if values else text

    def when(self, moment: datetime | None) -> str:
        """A date and time in the user's zone, the zone's abbreviation shown."""
        if moment is None:
            return "—"
        return format_datetime(moment.astimezone(self.zone), "short", locale=self.babel_locale) + " " + \
            (moment.astimezone(self.zone).tzname() or self.zone.key)

    def num(self, value: float) -> str:
        """A number with this locale's separators."""
        return format_decimal(value, locale=self.babel_locale)


__all__ = ["LANG_COOKIE", "TZ_COOKIE", "Speaker", "negotiate", "zone_or_default"]
