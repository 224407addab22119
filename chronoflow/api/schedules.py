"""``POST /schedules/parse``: preview how ChronoFlow reads a schedule."""

from __future__ import annotations

from litestar import post

from chronoflow.api.openapi import errors
from chronoflow.api.schemas import Descriptions, ParseOut, ParseRequest
from chronoflow.config import Settings
from chronoflow.nlcron import describe, next_fire_times
from chronoflow.scheduling.reading import read_schedule
from chronoflow.store.engine import utcnow

PREVIEW = 5


def preview(expression: str, timezone: str | None, settings: Settings) -> ParseOut:
    """How ``expression`` reads in ``timezone`` (default ``DEFAULT_TIMEZONE``) and its next fire times."""
    zone = timezone if isinstance(timezone, str) else settings.default_timezone
    now = utcnow()
    schedule = read_schedule(expression, zone, now, field="expression")
    return ParseOut(
        kind="recurring" if schedule.is_recurring else "once",
        is_recurring=schedule.is_recurring,
        cron=schedule.cron,
        run_at=schedule.run_at,
        timezone=schedule.timezone,
        description=Descriptions(en=describe(schedule, "en"), pt_br=describe(schedule, "pt-BR")),
        next_fire_times=next_fire_times(schedule, PREVIEW, after=now),
    )


@post("/schedules/parse", status_code=200, tags=["schedules"], summary="Read a schedule and preview its fire times",
      responses=errors(400, 401, 413, 422))
async def parse_schedule(data: ParseRequest, settings: Settings) -> ParseOut:
    return preview(data.expression, data.timezone if isinstance(data.timezone, str) else None, settings)
