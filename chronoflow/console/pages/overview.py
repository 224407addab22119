"""The overview: layers, counts of chronos, runs of the last day, next fires, latest failures, and
the campaigns sending now with their progress."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Redirect, Template
from redis import Redis

from chronoflow.api.campaigns import CampaignOut
from chronoflow.api.health import check_all
from chronoflow.campaigns import CampaignService
from chronoflow.chronos.overview import overview
from chronoflow.config import Settings
from chronoflow.console.charts import bar_chart
from chronoflow.console.pages.campaigns import done_share
from chronoflow.console.rendering import page
from chronoflow.console.session import PREFIX, visitor
from chronoflow.scheduling.jobs import JobStore
from chronoflow.store.engine import Database
from chronoflow.store.models import CampaignStatus, RunStatus, TargetType

LAYERS = ("database", "redis", "scheduler", "workers", "sandbox")
SENDING_SHOWN = 10
"""Campaigns sending now listed on the overview."""


class OverviewPage(Controller):
    path = PREFIX

    @get("/")
    async def overview(self, request: Request[Any, Any, Any], db: Database, redis: Redis, jobs: JobStore,
                       settings: Settings) -> Template:
        checks = await check_all(db, redis, settings)
        figures = await overview(db)
        campaigns = CampaignService(db, jobs, settings)
        rows, _ = await campaigns.list(0, SENDING_SHOWN, CampaignStatus.SENDING)
        sending = [CampaignOut.of(*await campaigns.with_progress(c.id)) for c in rows]
        speaker = visitor(request).speaker
        chart = bar_chart(speaker.t("chart_label"),
                          [(status.value, figures.runs_by_status.get(status.value, 0)) for status in RunStatus],
                          speaker.num)
        return page(request, "overview.html", layers=[(name, checks[name]) for name in LAYERS],
                    targets=[kind.value for kind in TargetType], counts=figures.chronos, chart=chart,
                    runs_total=sum(figures.runs_by_status.values()), next_fires=figures.next_fires,
                    failures=figures.failures, sending=sending, done=done_share)


@get("/", include_in_schema=False)
async def root() -> Redirect:
    """``/`` opens the console."""
    return Redirect(f"{PREFIX}/", status_code=302)
