"""Natural-language schedules (first cut: relative one-shots)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chronoflow.nlcron.errors import ScheduleError

_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "segundo": 1, "segundos": 1,
          "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "minuto": 60, "minutos": 60,
          "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "hora": 3600, "horas": 3600,
          "d": 86400, "day": 86400, "days": 86400, "dia": 86400, "dias": 86400}
_RELATIVE = re.compile(r"(?:in|em|daqui(?: a)?) ?(\d+) ?([a-z]+)|(\d+) ?([a-z]+)")


def read_phrase(expression: str, normalized: str, tz: ZoneInfo, now: datetime) -> tuple[str | None, datetime | None]:
    match = _RELATIVE.fullmatch(normalized)
    if match:
        amount, unit = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        if unit in _UNITS and int(amount) > 0:
            return None, now + timedelta(seconds=int(amount) * _UNITS[unit])
    raise ScheduleError(f'could not read "{expression}"', expression, "in 10 min")
