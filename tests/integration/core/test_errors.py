"""One error body everywhere, a request id on every answer, unexpected errors logged and never shown."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError

from chronoflow.api.app import create_app
from chronoflow.devtools.embedded_redis import free_port
from tests.integration.conftest import TOKEN, Stack

VALID = {"name": "ok", "cron": "0 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/hook"}
ERROR_KEYS = {"statusCode", "detail", "field", "requestId", "line", "reason", "provider"}
"""Every key an error body may have (``chronoflow.api.errors.ErrorBody``)."""
JSON = {"Content-Type": "application/json"}


def closed_redis_url() -> str:
    """A Redis URL on a loopback port nothing listens on: every command is refused at once."""
    return f"redis://127.0.0.1:{free_port()}/0"


def assert_error(response: httpx.Response, status: int, field: str | None) -> dict[str, Any]:
    """The one shape: status, detail, the field at fault if any, and the header's request id."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= ERROR_KEYS, body
    assert body["statusCode"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert body.get("field") == field, body
    assert body["requestId"] == response.headers["X-Request-Id"]
    return body


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "field"), [
    pytest.param("get", "/nowhere", {}, 404, None, id="unknown-route"),
    pytest.param("put", "/chronos", {}, 405, None, id="wrong-method"),
    pytest.param("post", "/chronos", {"content": b"{not json", "headers": JSON}, 400, None, id="malformed-json"),
    pytest.param("post", "/chronos", {"json": {**VALID, "name": 7}}, 400, "name", id="wrong-type"),
    pytest.param("get", "/chronos?take=0", {}, 400, "take", id="bad-parameter"),
    pytest.param("get", "/chronos/nope", {}, 404, None, id="unknown-id"),
    pytest.param("post", "/chronos", {"json": {**VALID, "cron": "61 * * * *"}}, 422, "cron", id="invalid-input"),
    pytest.param("post", "/chronos", {"content": b" " * (1024 * 1024 + 1), "headers": JSON}, 413, "body",
                 id="body-too-large"),
    pytest.param("post", "/chronos", {"json": {**VALID, "payload": "x" * 70_000}}, 413, "payload",
                 id="field-too-large"),
])
def test_every_error_has_one_shape(sqlite_stack: Stack, method: str, path: str, kwargs: dict[str, Any],
                                   status: int, field: str | None) -> None:
    """It answers Litestar's errors and its own alike: statusCode, detail, field, requestId."""
    response = getattr(sqlite_stack.api, method)(path, **kwargs)
    body = assert_error(response, status, field)
    assert "status_code" not in body


def test_a_refused_token_is_the_same_shape_with_its_challenge(sqlite_stack: Stack) -> None:
    """It answers a missing or wrong token with the common body and a WWW-Authenticate header."""
    client = sqlite_stack.api
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        response = client.get("/chronos", headers=headers)
        assert_error(response, 401, None)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_refused_code_keeps_its_line_and_reason(sqlite_stack: Stack) -> None:
    """It adds ``line`` and ``reason`` to the common body of refused function code."""
    response = sqlite_stack.api.post("/functions", json={"name": "f", "code": "def run(ctx):\n    return 1\nimport os\n"})
    body = assert_error(response, 422, "code")
    assert body["line"] == 3 and "os" in body["reason"]


def test_every_answer_carries_a_request_id(sqlite_stack: Stack) -> None:
    """It stamps successes too, with a new id per request."""
    first = sqlite_stack.api.get("/chronos")
    second = sqlite_stack.api.get("/chronos")
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize(("sent", "kept"), [
    pytest.param("req-42.a:b_C", True, id="sane"),
    pytest.param("9f1c2e7a-0d4b-4c3e-9a51-2b7d8e6f1a30", True, id="uuid"),
    pytest.param("two words", False, id="space"),
    pytest.param("x" * 129, False, id="too-long"),
    pytest.param("-starts-with-dash", False, id="leading-dash"),
    pytest.param("line\\nbreak", False, id="backslash"),
])
def test_a_sane_incoming_request_id_is_kept(sqlite_stack: Stack, sent: str, kept: bool) -> None:
    """It echoes a sane X-Request-Id and replaces anything else with its own."""
    response = sqlite_stack.api.get("/chronos/nope", headers={"X-Request-Id": sent})
    assert (response.headers["X-Request-Id"] == sent) is kept
    assert response.json()["requestId"] == response.headers["X-Request-Id"]


def test_an_unexpected_error_is_a_bare_500_logged_with_its_traceback(stack: Stack,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """It logs the traceback with the request id, tells the client nothing more, and writes nothing."""
    app = create_app(stack.settings, closed_redis_url(), stack.database_url)
    with TestClient(app) as client, caplog.at_level(logging.ERROR, logger="chronoflow.api.errors"):
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        response = client.post("/chronos", json=VALID)
    ident = response.headers["X-Request-Id"]
    assert response.status_code == 500
    assert response.json() == {"statusCode": 500, "detail": "internal error", "requestId": ident}
    logged = [r for r in caplog.records if r.name == "chronoflow.api.errors" and ident in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None and issubclass(logged[0].exc_info[0], RedisConnectionError)
    assert "POST /chronos" in logged[0].getMessage()
    assert stack.row_counts() == (0, 0)


def test_the_api_process_writes_the_traceback_to_its_log(sqlite_stack: Stack) -> None:
    """It logs an unexpected error in a real ``chronoflow api`` process, not only under the test runner."""
    sqlite_stack.env["REDIS_URL"] = closed_redis_url()
    process, url = sqlite_stack.spawn_api()
    response = httpx.post(f"{url}/chronos", json=VALID, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    ident = response.headers["X-Request-Id"]
    assert response.status_code == 500 and response.json()["requestId"] == ident
    process.terminate()
    output, _ = process.communicate(timeout=30)
    log = output.decode()
    line = next((entry for entry in log.splitlines() if ident in entry), "")
    assert "ERROR" in line and "POST /chronos" in line, log
    assert "Traceback (most recent call last)" in log and "ConnectionError" in log, log
