"""A ChronoFlow stack on the suite's real services: API client, job store, worker and scheduler processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from redis import Redis
from sqlalchemy import func, select

from chronoflow.api.app import create_app
from chronoflow.config import Settings, async_database_url
from chronoflow.devtools.embedded_redis import free_port
from chronoflow.scheduling.jobs import SCHEDULED_JOBS_KEY, JobStore
from chronoflow.scheduling.scheduler import ChronoScheduler
from chronoflow.store.engine import Database
from chronoflow.store.migrations import upgrade
from chronoflow.store.models import Chrono, ChronoRun

TOKEN = "test-token-0123456789"


class Stack:
    """Everything a test needs to drive ChronoFlow for real."""

    def __init__(self, database_url: str, redis_url: str, tmp_path: Path) -> None:
        self.database_url = async_database_url(database_url)
        self.redis_url = redis_url
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": redis_url,
            "CHRONOFLOW_API_TOKENS": TOKEN,
            "CHRONOFLOW_HOME": str(tmp_path / "home"),
            "JOB_BACKOFF_MS": "200",
            "JOB_ATTEMPTS": "3",
            "WORKER_HEARTBEAT_TTL_SECONDS": "2",
            "SCHEDULER_LOCK_TTL_MS": "1500",
            "HTTP_REQUEST_TIMEOUT_MS": "3000",
            "LOG_LEVEL": "WARNING",
            "PYTHONFAULTHANDLER": "1",  # a process the tests abort prints where each of its threads was
        }
        self.settings = Settings(
            database_url=self.database_url, redis_url=redis_url, api_tokens=(TOKEN,), job_backoff_ms=200,
            worker_heartbeat_ttl_s=2, scheduler_lock_ttl_ms=1500, http_request_timeout_ms=3000,
        )
        self.redis = Redis.from_url(redis_url)
        self.jobs = JobStore(self.redis, self.settings.queue_name)
        self.db = Database(self.database_url)
        self.loop = asyncio.Runner()
        self.processes: list[subprocess.Popen[bytes]] = []
        self._client: TestClient[Any] | None = None

    # --- API ------------------------------------------------------------------------------------
    @property
    def api(self) -> TestClient[Any]:
        if self._client is None:
            app = create_app(self.settings, self.redis_url, self.database_url)
            self._client = TestClient(app)
            self._client.__enter__()
            self._client.headers["Authorization"] = f"Bearer {TOKEN}"
        return self._client

    def create_http_chrono(self, url: str, cron: str = "0 8 * * *", **fields: Any) -> dict[str, Any]:
        response = self.api.post("/chronos", json={"name": "test", "cron": cron, "targetType": "HTTP", "url": url, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    # --- database -------------------------------------------------------------------------------
    def db_run(self, coro: Any) -> Any:
        return self.loop.run(coro)

    def runs(self, chrono_id: str) -> list[ChronoRun]:
        async def load() -> list[ChronoRun]:
            async with self.db.session() as session:
                rows = await session.scalars(select(ChronoRun).where(ChronoRun.chrono_id == chrono_id)
                                             .order_by(ChronoRun.scheduled_for, ChronoRun.attempt))
                return list(rows)
        return self.db_run(load())

    def chrono(self, chrono_id: str) -> Chrono | None:
        async def load() -> Chrono | None:
            async with self.db.session() as session:
                return await session.get(Chrono, chrono_id)
        return self.db_run(load())

    def row_counts(self) -> tuple[int, int]:
        async def count() -> tuple[int, int]:
            async with self.db.session() as session:
                return (int(await session.scalar(select(func.count()).select_from(Chrono)) or 0),
                        int(await session.scalar(select(func.count()).select_from(ChronoRun)) or 0))
        return self.db_run(count())

    # --- Redis ----------------------------------------------------------------------------------
    def redis_snapshot(self) -> tuple[list[Any], list[bytes]]:
        """Scheduled jobs and job keys: what bad input must leave unchanged."""
        return (self.redis.zrange(SCHEDULED_JOBS_KEY, 0, -1, withscores=True),
                sorted(self.redis.scan_iter(match="rq:job:*")))

    def queued(self) -> list[bytes]:
        return self.redis.lrange(f"rq:queue:{self.settings.queue_name}", 0, -1)

    def scheduler(self, **kwargs: Any) -> ChronoScheduler:
        return ChronoScheduler(self.redis, self.jobs, lock_ttl_ms=1500, **kwargs)

    def hand_over(self, at: float | None = None) -> int:
        """One scheduler pass, as if the clock read ``at``."""
        return self.scheduler().hand_over_due(at)

    # --- processes ------------------------------------------------------------------------------
    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "chronoflow", *args], env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def spawn_api(self, timeout: float = 60) -> tuple[subprocess.Popen[bytes], str]:
        """A ``chronoflow api`` process on a free port of 127.0.0.1, once it answers; it and its URL."""
        port = free_port()
        process = self.spawn("api", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                httpx.get(f"{url}/health", timeout=2)
                return process, url
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.2)

    def run_due(self, chrono_id: str) -> None:
        """Hand the chrono's next occurrence to the queue and run it with a real worker process."""
        self.hand_over(self.jobs.scheduled_due(chrono_id))
        self.drain()

    def drain(self, timeout: float = 60) -> str:
        """Run a burst worker until the queue is empty; returns its output."""
        process = self.spawn("worker", "--burst")
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack, then the end
            out, _ = process.communicate(timeout=10)
            pytest.fail(f"the burst worker still ran after {timeout} s:\n{out.decode()}", pytrace=False)
        assert process.returncode == 0, out.decode()
        return out.decode()

    def wait_until(self, predicate: Any, timeout: float = 15, interval: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout} s")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._client is not None:
            self._client.__exit__(None, None, None)
        self.loop.run(self.db.dispose())
        self.loop.close()
        self.redis.close()


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    """A migrated database (SQLite and PostgreSQL), a clean Redis, and the API."""
    upgrade(async_database_url(database_url))
    stack = Stack(database_url, redis_url, tmp_path)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def sqlite_stack(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    """The same stack on SQLite only, for process-heavy tests where the backend does not matter."""
    upgrade(sqlite_url)
    stack = Stack(sqlite_url, redis_url, tmp_path)
    try:
        yield stack
    finally:
        stack.close()


__all__ = ["Stack"]
