"""``/health``: which dependency is down, in a fixed word, never its raw error; and the sandbox's layers."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from chronoflow.api.app import create_app
from chronoflow.api.health import HealthChecks
from chronoflow.config import Settings
from chronoflow.sandbox.policy import DEFAULT_REQUIRED_LAYERS
from tests.integration.conftest import Stack

SECRET = "hunter2-health-secret"


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port bound by no listener: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def test_health_shows_the_sandbox_layers(stack: Stack) -> None:
    """It reports the layers a sandbox child really had, the required ones, and ok when all hold."""
    stack.api.headers.pop("Authorization")
    body = stack.api.get("/health").json()
    sandbox = body["sandbox"]
    assert sandbox["ok"] is True and "missing" not in sandbox and "error" not in sandbox
    assert sandbox["required"] == list(DEFAULT_REQUIRED_LAYERS)
    assert set(sandbox["required"]) <= set(sandbox["layers"])
    assert sandbox["layers"][0] == "process-group" and "seccomp" in sandbox["layers"]
    assert body["database"] == {"ok": True} and body["redis"] == {"ok": True}


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_health_names_the_dependency_that_is_down_without_its_error(
    database: str, refused_port: int, tmp_path, caplog: pytest.LogCaptureFixture,
) -> None:
    """It denies the public body the cause (URLs, passwords, paths): "unreachable", traceback in the log."""
    sqlite_file = tmp_path / f"dir-{SECRET}" / "chronoflow.db"
    database_url = (f"postgresql+asyncpg://chronoflow:{SECRET}@127.0.0.1:{refused_port}/chronoflow"
                    if database == "postgresql" else f"sqlite+aiosqlite:///{sqlite_file}")
    redis_url = f"redis://:{SECRET}@127.0.0.1:{refused_port}/0"
    settings = Settings(api_tokens=("t" * 20,), redis_url=redis_url, database_url=database_url)
    app = create_app(settings, redis_url, database_url)
    if database == "sqlite":  # the file the app opened is gone, a directory in its place
        sqlite_file.unlink()
        sqlite_file.mkdir()
    with caplog.at_level(logging.WARNING, logger="chronoflow.api.health"), TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == {"ok": False, "error": "unreachable"}
    assert body["redis"] == {"ok": False, "error": "unreachable"}
    assert body["scheduler"]["ok"] is False and body["workers"]["ok"] is False
    assert body["sandbox"]["ok"] is True  # the one dependency that is up says so
    for leak in (SECRET, "127.0.0.1", str(refused_port), "chronoflow.db", "Error"):
        assert leak not in response.text, leak
    logged = {record.getMessage(): record for record in caplog.records}
    assert logged["health: the database is unreachable"].exc_info is not None
    assert logged["health: Redis is unreachable"].exc_info is not None


def test_health_polls_arriving_together_share_one_check(sqlite_stack: Stack) -> None:
    """It runs one check for the polls that arrive while it runs, and a new one for the next poll."""
    stack = sqlite_stack
    checks = HealthChecks(stack.db, stack.redis, stack.settings)

    def reads() -> int:  # one GET of the reconciliation marker per check
        return int(stack.redis.info("commandstats").get("cmdstat_get", {}).get("calls", 0))

    async def poll(count: int) -> list[dict[str, dict[str, object]]]:
        return await asyncio.gather(*(checks.current() for _ in range(count)))

    before = reads()
    answers = stack.db_run(poll(20))
    assert reads() - before == 1
    assert all(answer == answers[0] for answer in answers) and answers[0]["database"] == {"ok": True}
    answers[0]["database"]["ok"] = False  # each caller gets its own copy
    assert stack.db_run(checks.current())["database"] == {"ok": True}
    assert reads() - before == 2
