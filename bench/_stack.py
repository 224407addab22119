"""Shared set-up of the scheduling benchmarks: embedded Redis, a SQLite file, a receiver, the service."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redis import Redis
from sqlalchemy import func, select

from chronoflow.chronos.service import ChronoService
from chronoflow.config import Settings, async_database_url
from chronoflow.devtools.embedded_redis import EmbeddedRedis
from chronoflow.scheduling.jobs import JobStore
from chronoflow.scheduling.scheduler import ChronoScheduler
from chronoflow.store.engine import Database
from chronoflow.store.models import ChronoRun
from chronoflow.store.migrations import upgrade
from tests.services import HttpReceiver, PostgresServer


@dataclass
class BenchStack:
    settings: Settings
    redis: Redis
    jobs: JobStore
    db: Database
    chronos: ChronoService
    receiver: HttpReceiver
    env: dict[str, str]
    loop: asyncio.Runner
    redis_server: EmbeddedRedis | None = None
    """The embedded Redis, for scenarios that stop or restart it."""

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A ``chronoflow`` process on this stack; ``env`` adds or overrides variables."""
        return subprocess.Popen([sys.executable, "-m", "chronoflow", *args], env={**self.env, **(env or {})},
                                start_new_session=True)


@contextmanager
def bench_database(kind: str, tmp: str) -> Iterator[str]:
    """A migrated database: the embedded default (SQLite) or a throwaway PostgreSQL cluster."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(url)
        yield url
        return
    with PostgresServer() as server:
        url = async_database_url(server.create_database("bench"))
        upgrade(url)
        yield url


@contextmanager
def bench_stack(database: str = "sqlite") -> Iterator[BenchStack]:
    with tempfile.TemporaryDirectory(prefix="chronoflow-bench-") as tmp, bench_database(database, tmp) as database_url:
        with EmbeddedRedis(Path(tmp) / "redis") as redis_server, HttpReceiver() as receiver:
            settings = Settings(database_url=database_url, redis_url=redis_server.url, api_tokens=("bench",))
            env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_server.url,
                   "CHRONOFLOW_HOME": tmp, "LOG_LEVEL": "WARNING", "JOB_ATTEMPTS": "1"}
            redis = Redis.from_url(redis_server.url)
            jobs = JobStore(redis, settings.queue_name)
            db = Database(database_url)
            loop = asyncio.Runner()
            try:
                yield BenchStack(settings, redis, jobs, db, ChronoService(db, jobs, settings), receiver, env, loop,
                                 redis_server)
            finally:
                loop.run(db.dispose())
                loop.close()


def burst_rate(stack: BenchStack, at: datetime, count: int, timeout_s: float,
               env: dict[str, str] | None = None) -> float:
    """Runs/s of one ``worker --burst`` over the ``count`` chronos due at ``at``, handed over first.

    The rate is taken from the runs themselves: ``count`` over the span from the first start to the
    last finish.
    """
    handed = 0
    for _ in range(count):  # bounded: each pass hands over at least one while any is left
        handed += ChronoScheduler(stack.redis, stack.jobs).hand_over_due(at.timestamp())
        if handed >= count:
            break
    stack.spawn("worker", "--burst", env=env).wait(timeout_s)
    done, seconds = runs_span(stack, at)
    assert done == count, f"only {done} of {count} runs succeeded"
    return count / seconds


def runs_span(stack: BenchStack, at: datetime) -> tuple[int, float]:
    """How many runs due at ``at`` succeeded, and the seconds from the first start to the last end."""

    async def span() -> tuple[int, float]:
        async with stack.db.session() as session:
            row = (await session.execute(select(
                func.count(), func.min(ChronoRun.started_at), func.max(ChronoRun.finished_at)
            ).where(ChronoRun.scheduled_for == at, ChronoRun.status == "success"))).one()
        return row[0], (row[2] - row[1]).total_seconds() if row[0] else 0.0

    return stack.loop.run(span())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


median = statistics.median
