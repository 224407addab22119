"""``GET /metrics``: Prometheus text exposition of ChronoFlow's own state."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from redis import Redis
from sqlalchemy import func, select

from chronoflow.api.openapi import PublicOperation
from chronoflow.config import Settings
from chronoflow.scheduling.heartbeats import live_worker_count, scheduler_alive
from chronoflow.scheduling.jobs import SCHEDULED_JOBS_KEY
from chronoflow.store.engine import Database
from chronoflow.store.models import Chrono, ChronoRun

CONTENT_TYPE = "text/plain; version=0.0.4"
"""Prometheus text exposition format 0.0.4; Litestar appends the one ``charset=utf-8``."""


def _redis_figures(redis: Redis, queue_name: str) -> dict[str, int]:
    return {
        "scheduled": int(redis.zcard(SCHEDULED_JOBS_KEY)),
        "queued": int(redis.llen(f"rq:queue:{queue_name}")),
        "workers": live_worker_count(redis),
        "scheduler": int(scheduler_alive(redis)),
    }


@get("/metrics", tags=["health"], summary="Prometheus metrics (text exposition format 0.0.4)", opt={"public": True},
     media_type=CONTENT_TYPE, operation_class=PublicOperation)
async def metrics(db: Database, redis: Redis, settings: Settings) -> Response[str]:
    async with db.session() as session:
        chronos = (await session.execute(
            select(Chrono.target_type, Chrono.is_active, func.count()).group_by(Chrono.target_type, Chrono.is_active)
        )).all()
        runs = (await session.execute(select(ChronoRun.status, func.count()).group_by(ChronoRun.status))).all()
    figures = await asyncio.to_thread(_redis_figures, redis, settings.queue_name)
    lines = [
        "# HELP chronoflow_chronos Chronos by target type and state.",
        "# TYPE chronoflow_chronos gauge",
        *(f'chronoflow_chronos{{target_type="{t}",active="{str(a).lower()}"}} {n}' for t, a, n in chronos),
        "# HELP chronoflow_runs Recorded runs by status.",
        "# TYPE chronoflow_runs gauge",
        *(f'chronoflow_runs{{status="{s}"}} {n}' for s, n in runs),
        "# HELP chronoflow_scheduled_jobs Jobs waiting in the scheduler's store.",
        "# TYPE chronoflow_scheduled_jobs gauge",
        f"chronoflow_scheduled_jobs {figures['scheduled']}",
        "# HELP chronoflow_queued_jobs Jobs handed over and waiting for a worker.",
        "# TYPE chronoflow_queued_jobs gauge",
        f"chronoflow_queued_jobs {figures['queued']}",
        "# HELP chronoflow_workers Workers with a live heartbeat.",
        "# TYPE chronoflow_workers gauge",
        f"chronoflow_workers {figures['workers']}",
        "# HELP chronoflow_scheduler_up 1 while a scheduler sends heartbeats.",
        "# TYPE chronoflow_scheduler_up gauge",
        f"chronoflow_scheduler_up {figures['scheduler']}",
    ]
    return Response("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
