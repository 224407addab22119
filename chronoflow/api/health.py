"""``GET /health``: database, Redis, scheduler heartbeat, workers and the function sandbox; 503 when one is down.

A failed check says which dependency is down in a fixed word (``unreachable``, ``unavailable``),
never with the exception's text, which may carry URLs, user names or passwords: the body is
public. The cause goes to the log with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec
from redis import Redis
from rq import Worker
from sqlalchemy import text

from chronoflow.api.openapi import PublicOperation
from chronoflow.api.schemas import HealthOut
from chronoflow.config import Settings
from chronoflow.functions.runners import shared_runner
from chronoflow.sandbox.layers import probe
from chronoflow.scheduling.heartbeats import live_worker_count, scheduler_alive
from chronoflow.store.engine import Database

log = logging.getLogger(__name__)

UNREACHABLE = {"ok": False, "error": "unreachable"}


async def _check_database(db: Database) -> dict[str, Any]:
    try:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        log.warning("health: the database is unreachable", exc_info=True)
        return dict(UNREACHABLE)
    return {"ok": True}


def _check_redis_side(redis: Redis) -> dict[str, Any]:
    try:
        redis.ping()
        scheduler = scheduler_alive(redis)
        workers = live_worker_count(redis)
        rq_workers = Worker.count(connection=redis)
    except Exception:
        log.warning("health: Redis is unreachable", exc_info=True)
        unknown = {"ok": False, "error": "Redis unreachable"}
        return {"redis": dict(UNREACHABLE), "scheduler": dict(unknown), "workers": dict(unknown)}
    return {
        "redis": {"ok": True},
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
    return {"database": database, **rest, "sandbox": sandbox}


@get("/health", tags=["health"], summary="Health of the database, Redis, scheduler, workers and function sandbox",
     opt={"public": True}, operation_class=PublicOperation,
     responses={200: ResponseSpec(HealthOut, description="Every dependency is up", generate_examples=False),
                503: ResponseSpec(HealthOut, description="One dependency or more is down", generate_examples=False)})
async def health(db: Database, redis: Redis, settings: Settings) -> Response[dict[str, Any]]:
    checks = await check_all(db, redis, settings)
    healthy = all(check["ok"] for check in checks.values())
    return Response({"status": "ok" if healthy else "down", **checks}, status_code=200 if healthy else 503)
