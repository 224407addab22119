"""Fixtures for the real services the suite starts itself (see ``tests/services.py``).

- ``redis_server`` (session) / ``redis_url`` (per test, flushed first)
- ``postgres_server`` (session) and its ``create_database(name)``
- ``sqlite_url`` (per test) and ``database_url``, run once on SQLite and once on PostgreSQL
- ``http_receiver`` (per test)

Tests marked ``postgres`` fail when no PostgreSQL binaries are installed, unless
``CHRONOFLOW_SKIP_POSTGRES=1`` is set: then they are skipped.
"""

from __future__ import annotations

import atexit
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

# Makes ``tests.services`` importable whether or not ``tests`` is a regular package.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.services import (
    EmbeddedRedis,
    HttpReceiver,
    PostgresNotFoundError,
    PostgresServer,
    find_postgres_bin,
)

SKIP_POSTGRES_ENV = "CHRONOFLOW_SKIP_POSTGRES"


def _require_postgres() -> None:
    """Skip on explicit request; fail loudly, not silently skip, when PostgreSQL is missing."""
    if os.environ.get(SKIP_POSTGRES_ENV) == "1":
        pytest.skip(f"{SKIP_POSTGRES_ENV}=1: PostgreSQL tests skipped")
    try:
        find_postgres_bin()
        return
    except PostgresNotFoundError as exc:
        problem = str(exc)
    # Failed outside the except block, so the report shows the message, not a chained traceback.
    pytest.fail(f"{problem} (set {SKIP_POSTGRES_ENV}=1 to skip the PostgreSQL tests)", pytrace=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") is not None:
        _require_postgres()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real redis-server on 127.0.0.1 for the whole session."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), port=0)
    atexit.register(server.stop)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """URL of the session Redis, emptied (FLUSHALL) before the test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the whole session (``.url``)."""
    _require_postgres()
    server = PostgresServer()
    try:
        server.start()
        problem = ""
    except RuntimeError as exc:
        problem = str(exc)
    if problem:
        pytest.fail(f"PostgreSQL for the tests could not start: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file of the test's own (created on first connect)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'chronoflow.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                ids=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database for each test, once per backend.

    SQLite: ``sqlite+aiosqlite:///…``; PostgreSQL: ``postgresql://postgres@127.0.0.1:PORT/t_…``
    (dropped after the test).
    """
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    """A live HTTP server on 127.0.0.1 recording every request (``.url``, ``.respond``, ``.wait_for``)."""
    with HttpReceiver() as receiver:
        yield receiver
