"""The overview: layers, counts of chronos, runs of the last day, next fires, latest failures."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Redirect, Template
from redis import Redis

from chronoflow.api.health import check_all
from chronoflow.chronos.overview import overview
from chronoflow.config import Settings
from chronoflow.console.charts import bar_chart
from chronoflow.console.rendering import page
from chronoflow.console.session import PREFIX, visitor
from chronoflow.store.engine import Database
from chronoflow.store.models import RunStatus, TargetType

LAYERS = ("database", "redis", "scheduler", "workers", "sandbox")


class OverviewPage(Controller):
    path = PREFIX

    @get("/")
    async def overview(self, request: Request[Any, Any, Any], db: Database, redis: Redis,
                       settings: Settings) -> Template:
        checks = await check_all(db, redis, settings)
        figures = await overview(db)
        speaker = visitor(request).speaker
        chart = bar_chart(speaker.t("chart_label"),
                          [(status.value, figures.runs_by_status.get(status.value, 0)) for status in RunStatus],
                          speaker.num)
        return page(request, "overview.html", layers=[(name, checks[name]) for name in LAYERS],
                    targets=[kind.value for kind in TargetType], counts=figures.chronos, chart=chart,
                    runs_total=sum(figures.runs_by_status.values()), next_fires=figures.next_fires,
                    failures=figures.failures)


@get("/", include_in_schema=False)
async def root() -> Redirect:
    """``/`` opens the console."""
    return Redirect(f"{PREFIX}/", status_code=302)
