"""``GET /health``: database, Redis, scheduler heartbeat, workers and the function sandbox; 503 when one is down.

A failed check says which dependency is down in a fixed word (``unreachable``, ``unavailable``),
never with the exception's text, which may carry URLs, user names or passwords: the body is
public. The cause goes to the log with its traceback.

Redis that answers but has lost its data (restarted empty, flushed) is not "ok": while the
reconciliation marker is missing and the database has active chronos, ``redis`` says
``data lost; reconciling`` (503) until the active scheduler has rebuilt the jobs.

Load-balancer polling must stay cheap: requests that arrive while a check is running share its
answer (:class:`HealthChecks`), so a burst of N polls costs one check, not N, and an answer is
never older than the request that waits for it by more than one check. The sandbox probe forks a
child and counting workers scans Redis's key space: those two answers are reused for
:data:`SANDBOX_PROBE_TTL_S` and :data:`WORKER_COUNT_TTL_S`. The database, Redis and its
reconciliation marker, and the scheduler heartbeat are checked by every check.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any, Generic, TypeVar

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
SANDBOX_PROBE_TTL_S = 5.0
"""How long one sandbox probe's report stands: the layers a host grants change with its kernel or
the settings, not from one poll to the next, and each probe forks a child."""
WORKER_COUNT_TTL_S = 1.0
"""How long the worker counts stand: counting heartbeats scans Redis's whole key space, and a worker
is judged dead only ``WORKER_HEARTBEAT_TTL_SECONDS`` after its last beat anyway."""

T = TypeVar("T")


class Reused(Generic[T]):
    """A costly, slowly changing check's answer, kept for ``ttl_s`` seconds after it was computed."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._value: T | None = None
        self._at = -math.inf

    def fresh(self) -> T | None:
        """The kept answer while it is younger than ``ttl_s``, else None."""
        return self._value if time.monotonic() - self._at < self.ttl_s else None

    def keep(self, value: T) -> T:
        self._value, self._at = value, time.monotonic()
        return value


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


def _count_workers(redis: Redis, reused: Reused[tuple[int, int]] | None) -> tuple[int, int]:
    """Live ChronoFlow workers (heartbeat keys) and the workers RQ has registered."""
    counts = reused.fresh() if reused is not None else None
    if counts is None:
        counts = (live_worker_count(redis), Worker.count(connection=redis))
        if reused is not None:
            reused.keep(counts)
    return counts


def _check_redis_side(redis: Redis, worker_counts: Reused[tuple[int, int]] | None = None) -> dict[str, Any]:
    try:  # the first read fails as a ping would: no separate round trip for it
        reconciled = jobs_reconciled(redis)
        scheduler = scheduler_alive(redis)
        workers, rq_workers = _count_workers(redis, worker_counts)
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


async def _sandbox_entry(settings: Settings, reused: Reused[dict[str, Any]] | None) -> dict[str, Any]:
    report = reused.fresh() if reused is not None else None
    if report is None:
        report = await asyncio.to_thread(_check_sandbox, settings)
        if reused is not None:
            reused.keep(report)
    return dict(report)


async def check_all(db: Database, redis: Redis, settings: Settings, sandbox: Reused[dict[str, Any]] | None = None,
                    worker_counts: Reused[tuple[int, int]] | None = None) -> dict[str, dict[str, Any]]:
    """Every layer's check, run together: database, redis, scheduler, workers, sandbox (the console shows them too).

    Args:
        sandbox, worker_counts: answers to reuse while fresh; without them, both are checked now.
    """
    database, rest, sandbox_body = await asyncio.gather(
        _check_database(db), asyncio.to_thread(_check_redis_side, redis, worker_counts),
        _sandbox_entry(settings, sandbox))
    if rest["redis"].pop("reconciled", True) is False and await _has_active_chronos(db):
        rest["redis"] = dict(DATA_LOST)
    return {"database": database, **rest, "sandbox": sandbox_body}


class HealthChecks:
    """The checks behind ``/health`` for one process: one run shared by the requests that wait on it,
    the sandbox probe and the worker counts reused while fresh (see the module's docstring).

    Args:
        db, redis, settings: what :func:`check_all` checks.
    """

    def __init__(self, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self._running: asyncio.Task[dict[str, dict[str, Any]]] | None = None
        self._sandbox: Reused[dict[str, Any]] = Reused(SANDBOX_PROBE_TTL_S)
        self._worker_counts: Reused[tuple[int, int]] = Reused(WORKER_COUNT_TTL_S)

    async def current(self) -> dict[str, dict[str, Any]]:
        """The answer of the check running now, or of a new one when none is."""
        loop = asyncio.get_running_loop()
        running = self._running
        if running is None or running.done() or running.get_loop() is not loop:
            running = loop.create_task(
                check_all(self.db, self.redis, self.settings, self._sandbox, self._worker_counts))
            self._running = running
        # shield: a caller that goes away does not cancel the check the others wait on
        checks = await asyncio.shield(running)
        return {name: dict(check) for name, check in checks.items()}


@get("/health", tags=["health"], summary="Health of the database, Redis, scheduler, workers and function sandbox",
     opt={"public": True}, operation_class=PublicOperation,
     responses={200: ResponseSpec(HealthOut, description="Every dependency is up", generate_examples=False),
                503: ResponseSpec(HealthOut, description="One dependency or more is down", generate_examples=False)})
async def health(health_checks: HealthChecks) -> Response[dict[str, Any]]:
    checks = await health_checks.current()
    healthy = all(check["ok"] for check in checks.values())
    return Response({"status": "ok" if healthy else "down", **checks}, status_code=200 if healthy else 503)
