"""``GET /health``: database, Redis, scheduler heartbeat and workers; 503 when one is down."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from redis import Redis
from rq import Worker
from sqlalchemy import text

from chronoflow.db import Database
from chronoflow.scheduler import HEARTBEAT_KEY
from chronoflow.worker import live_worker_count


async def _check_database(db: Database) -> dict[str, Any]:
    try:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _check_redis_side(redis: Redis) -> dict[str, Any]:
    try:
        redis.ping()
    except Exception as exc:
        down = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        return {"redis": down, "scheduler": {"ok": False, "error": "Redis unreachable"},
                "workers": {"ok": False, "error": "Redis unreachable"}}
    scheduler = redis.get(HEARTBEAT_KEY)
    workers = live_worker_count(redis)
    return {
        "redis": {"ok": True},
        "scheduler": {"ok": scheduler is not None, **({} if scheduler else {"error": "no scheduler heartbeat"})},
        "workers": {"ok": bool(workers), "count": workers, "rqWorkers": Worker.count(connection=redis),
                    **({} if workers else {"error": "no live worker"})},
    }


@get("/health", tags=["health"], summary="Health of the database, Redis, scheduler and workers", opt={"public": True})
async def health(db: Database, redis: Redis) -> Response[dict[str, Any]]:
    database, rest = await asyncio.gather(_check_database(db), asyncio.to_thread(_check_redis_side, redis))
    checks = {"database": database, **rest}
    healthy = all(check["ok"] for check in checks.values())
    return Response({"status": "ok" if healthy else "down", **checks}, status_code=200 if healthy else 503)
