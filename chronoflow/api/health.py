"""``GET /health``: database, Redis, scheduler heartbeat, workers and the function sandbox; 503 when one is down.

A failed check says which dependency is down in a fixed word (``unreachable``, ``unavailable``),
never with the exception's text, which may carry URLs, user names or passwords: the body is
public. The cause goes to the log with its traceback.

Redis that answers but has lost its data (restarted empty, flushed) is not "ok": while the
reconciliation marker is missing and the database has active chronos, ``redis`` says
``data lost; reconciling`` (503) until the active scheduler has rebuilt the jobs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec
from redis import Redis
from rq import Worker
from sqlalchemy import exists, select, text

from chronoflow.api.openapi import PublicOperation
from chronoflow.api.schemas import HealthOut
from chronoflow.config import Settings
from chronoflow.functions.runners import shared_runner
from chronoflow.sandbox.layers import probe
from chronoflow.scheduling.heartbeats import jobs_reconciled, live_worker_count, scheduler_alive
from chronoflow.store.engine import Database
from chronoflow.store.models import Chrono

log = logging.getLogger(__name__)

UNREACHABLE = {"ok": False, "error": "unreachable"}
DATA_LOST = {"ok": False, "error": "data lost; reconciling"}


async def _check_database(db: Database) -> dict[str, Any]:
    try:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        log.warning("health: the database is unreachable", exc_info=True)
        return dict(UNREACHABLE)
    return {"ok": True}


async def _has_active_chronos(db: Database) -> bool:
    """Whether Redis should hold schedule jobs at all (an unreadable database counts as no: its own check fails)."""
    try:
        async with db.session() as session:
            return bool(await session.scalar(select(exists().where(Chrono.is_active.is_(True)))))
    except Exception:
        log.warning("health: could not count active chronos", exc_info=True)
        return False


def _check_redis_side(redis: Redis) -> dict[str, Any]:
    try:
        redis.ping()
        reconciled = jobs_reconciled(redis)
        scheduler = scheduler_alive(redis)
        workers = live_worker_count(redis)
        rq_workers = Worker.count(connection=redis)
    except Exception:
        log.warning("health: Redis is unreachable", exc_info=True)
        unknown = {"ok": False, "error": "Redis unreachable"}
        return {"redis": dict(UNREACHABLE), "scheduler": dict(unknown), "workers": dict(unknown)}
    return {
        "redis": {"ok": True} if reconciled else {"ok": True, "reconciled": False},
        "scheduler": {"ok": scheduler, **({} if scheduler else {"error": "no scheduler heartbeat"})},
        "workers": {"ok": bool(workers), "count": workers, "rqWorkers": rq_workers,
                    **({} if workers else {"error": "no live worker"})},
    }


def _check_sandbox(settings: Settings) -> dict[str, Any]:
    """Fork one child through every layer: the layers this API's sandbox really has, against the required ones."""
    return probe(shared_runner(settings)).to_json()


async def check_all(db: Database, redis: Redis, settings: Settings) -> dict[str, dict[str, Any]]:
    """Every layer's check, run together: database, redis, scheduler, workers, sandbox (the console shows them too)."""
    database, rest, sandbox = await asyncio.gather(
        _check_database(db), asyncio.to_thread(_check_redis_side, redis), asyncio.to_thread(_check_sandbox, settings))
    if rest["redis"].pop("reconciled", True) is False and await _has_active_chronos(db):
        rest["redis"] = dict(DATA_LOST)
    return {"database": database, **rest, "sandbox": sandbox}


@get("/health", tags=["health"], summary="Health of the database, Redis, scheduler, workers and function sandbox",
     opt={"public": True}, operation_class=PublicOperation,
     responses={200: ResponseSpec(HealthOut, description="Every dependency is up", generate_examples=False),
                503: ResponseSpec(HealthOut, description="One dependency or more is down", generate_examples=False)})
async def health(db: Database, redis: Redis, settings: Settings) -> Response[dict[str, Any]]:
    checks = await check_all(db, redis, settings)
    healthy = all(check["ok"] for check in checks.values())
    return Response({"status": "ok" if healthy else "down", **checks}, status_code=200 if healthy else 503)
