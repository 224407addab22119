"""The services the suite starts itself really work."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.services import HttpReceiver, PostgresServer


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_redis_answers_ping(redis_url: str) -> None:
    """It starts a Redis that answers PING."""
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping() is True
        client.set("leftover", "1")


def test_redis_is_flushed_between_tests(redis_url: str) -> None:
    """It empties Redis before each test."""
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0


@pytest.mark.postgres
def test_postgres_answers_version(postgres_server: PostgresServer) -> None:
    """It starts a PostgreSQL that answers SELECT version()."""

    async def version() -> str:
        conn = await asyncpg.connect(postgres_server.url)
        try:
            return str(await conn.fetchval("SELECT version()"))
        finally:
            await conn.close()

    assert asyncio.run(version()).startswith("PostgreSQL ")
    assert postgres_server.url.startswith("postgresql://postgres@127.0.0.1:")


@pytest.mark.postgres
def test_postgres_create_database_gives_empty_database(postgres_server: PostgresServer) -> None:
    """It creates a fresh database per call and drops it on request."""
    url = postgres_server.create_database("services_check")

    async def tables() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"))
        finally:
            await conn.close()

    assert asyncio.run(tables()) == 0
    postgres_server.drop_database("services_check")
    with pytest.raises(ValueError, match="must match"):
        postgres_server.create_database("Bad-Name")


def test_sqlite_url_file_created(sqlite_url: str, tmp_path: Path) -> None:
    """It points SQLite at a per-test file, created on first use."""

    async def touch() -> None:
        engine = create_async_engine(sqlite_url)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        await engine.dispose()

    asyncio.run(touch())
    assert (tmp_path / "chronoflow.db").is_file()


def test_database_url_is_empty_on_every_backend(database_url: str) -> None:
    """It gives each test an empty database, on SQLite and on PostgreSQL."""
    url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)

    async def roundtrip() -> int:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (42)"))
            value = (await conn.execute(text("SELECT x FROM t"))).scalar_one()
        await engine.dispose()
        return int(value)

    assert asyncio.run(roundtrip()) == 42


def test_http_receiver_records_post(http_receiver: HttpReceiver) -> None:
    """It records method, path, query, headers, body and arrival time."""
    before = time.time()
    status, body = _post(f"{http_receiver.url}/hook?a=1&a=2", b'{"x": 1}',
                         {"Content-Type": "application/json", "X-Token": "s3cret"})
    assert (status, body) == (200, b'{"ok": true}')
    [request] = http_receiver.wait_for(1, timeout=2)
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.query == {"a": ["1", "2"]}
    assert request.headers["x-token"] == "s3cret"
    assert request.json() == {"x": 1}
    assert before <= request.arrived_at <= time.time()


def test_http_receiver_queued_statuses(http_receiver: HttpReceiver) -> None:
    """It fails twice, then succeeds, as configured."""
    http_receiver.respond("/flaky", statuses=[500, 503], status=201, body={"done": True})
    got = [_post(f"{http_receiver.url}/flaky", b"")[0] for _ in range(4)]
    assert got == [500, 503, 201, 201]
    assert len(http_receiver.wait_for(4, timeout=2, path="/flaky")) == 4


def test_http_receiver_delay_and_wait_timeout(http_receiver: HttpReceiver) -> None:
    """It delays answers on request and bounds wait_for."""
    http_receiver.respond("/slow", delay=0.3)
    started = time.monotonic()
    assert _post(f"{http_receiver.url}/slow", b"")[0] == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(TimeoutError, match="expected 2 requests"):
        http_receiver.wait_for(2, timeout=0.1)


def test_missing_postgres_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """It names every place it looked when no PostgreSQL binaries exist."""
    from tests import services

    monkeypatch.setenv("PG_BIN", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(services.glob, "glob", lambda pattern: [])
    with pytest.raises(services.PostgresNotFoundError, match=f"tried {tmp_path}. Install PostgreSQL"):
        services.find_postgres_bin()
