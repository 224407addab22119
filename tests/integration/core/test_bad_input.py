"""Invariant 5: bad input is a 4xx naming the field and the problem; nothing reaches the database or Redis."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack

VALID = {"name": "ok", "cron": "0 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/hook"}

CREATE_CASES = [
    pytest.param({**VALID, "cron": "61 * * * *"}, 422, "cron", id="cron-out-of-range"),
    pytest.param({**VALID, "cron": "every blue moon"}, 422, "cron", id="cron-unreadable"),
    pytest.param({**VALID, "cron": ""}, 422, "cron", id="cron-empty"),
    pytest.param({**VALID, "cron": "2001-01-01T00:00:00Z"}, 422, "cron", id="one-shot-in-the-past"),
    pytest.param({**VALID, "targetType": "FTP"}, 422, "targetType", id="unknown-target-type"),
    pytest.param({k: v for k, v in VALID.items() if k != "url"}, 422, "url", id="missing-url"),
    pytest.param({**VALID, "url": "ftp://example.com/x"}, 422, "url", id="url-not-http"),
    pytest.param({**VALID, "url": "not a url"}, 422, "url", id="url-relative"),
    pytest.param({**VALID, "timezone": "Mars/Olympus"}, 422, "timezone", id="bad-timezone"),
    pytest.param({**VALID, "method": "TRACE"}, 422, "method", id="method-not-allowed"),
    pytest.param({**VALID, "name": "  "}, 422, "name", id="blank-name"),
    pytest.param({**VALID, "signingSecret": "short"}, 422, "signingSecret", id="weak-signing-secret"),
    pytest.param({**VALID, "headers": {"X-Bad\r\nInjected": "1"}}, 422, "headers", id="header-injection"),
    pytest.param({**VALID, "misfireGraceSeconds": -1}, 422, "misfireGraceSeconds", id="negative-grace"),
    pytest.param({**VALID, "overlapPolicy": "sometimes"}, 422, "overlapPolicy", id="unknown-overlap-policy"),
    pytest.param({**VALID, "name": 42}, 400, "name", id="name-wrong-type"),
    pytest.param({**VALID, "isActive": "yes"}, 400, "isActive", id="is-active-wrong-type"),
    pytest.param({**VALID, "headers": {"X-A": 1}}, 400, "headers", id="header-value-wrong-type"),
    pytest.param({**VALID, "colour": "red"}, 400, "colour", id="unknown-field"),
    pytest.param({k: v for k, v in VALID.items() if k != "cron"}, 400, "cron", id="missing-cron"),
    pytest.param({**VALID, "recipients": [{"phone": "+5511987654321"}]}, 422, "recipients", id="message-field-on-http"),
    pytest.param({"name": "m", "cron": "0 8 * * *", "targetType": "FUNCTION", "functionCode": "def run(ctx):\n    return 1\n",
                  "url": "http://127.0.0.1:9/x"}, 422, "url", id="http-field-on-function"),
]


def _unchanged(stack: Stack, before: tuple[Any, ...]) -> None:
    assert (stack.row_counts(), stack.redis_snapshot()) == before


@pytest.mark.parametrize(("body", "status", "field"), CREATE_CASES)
def test_create_rejects_bad_input_and_writes_nothing(stack: Stack, body: dict[str, Any], status: int, field: str) -> None:
    """It answers 4xx naming the field, with the database and Redis unchanged."""
    stack.create_http_chrono("http://127.0.0.1:9/existing")
    before = (stack.row_counts(), stack.redis_snapshot())
    response = stack.api.post("/chronos", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert field in error["detail"], error
    _unchanged(stack, before)


def test_unreadable_cron_message_quotes_the_problem(stack: Stack) -> None:
    """It says what it could not read in the cron field."""
    response = stack.api.post("/chronos", json={**VALID, "cron": "every blue moon"})
    assert response.json()["field"] == "cron"
    assert "blue" in response.json()["detail"]


@pytest.mark.parametrize(("change", "field"), [
    ({"cron": "* * *"}, "cron"), ({"timezone": "Nowhere/City"}, "timezone"), ({"url": ""}, "url"),
    ({"targetType": "SMTP"}, "targetType"), ({"method": "CONNECT"}, "method"),
    ({"functionId": "f-1"}, "functionId"), ({"overlapPolicy": "queue-all"}, "overlapPolicy"),
], ids=["cron", "timezone", "url", "targetType", "method", "foreign-field", "overlapPolicy"])
def test_update_rejects_bad_input_and_keeps_the_chrono(stack: Stack, change: dict[str, Any], field: str) -> None:
    """It refuses a bad PATCH and leaves the chrono and its job exactly as they were."""
    chrono = stack.create_http_chrono("http://127.0.0.1:9/keep")
    before = (stack.row_counts(), stack.redis_snapshot())
    response = stack.api.patch(f"/chronos/{chrono['id']}", json=change)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    _unchanged(stack, before)
    assert stack.api.get(f"/chronos/{chrono['id']}").json() == chrono


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/chronos/nope"), ("patch", "/chronos/nope"), ("delete", "/chronos/nope"),
    ("post", "/chronos/nope/pause"), ("post", "/chronos/nope/resume"), ("post", "/chronos/nope/trigger"),
    ("get", "/chronos/nope/runs"), ("get", "/runs/nope"),
])
def test_unknown_ids_are_404(stack: Stack, method: str, path: str) -> None:
    """It answers 404 naming the unknown id, and writes nothing."""
    before = (stack.row_counts(), stack.redis_snapshot())
    kwargs = {"json": {"name": "x"}} if method == "patch" else {}
    response = getattr(stack.api, method)(path, **kwargs)
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]
    _unchanged(stack, before)


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer "],
                         ids=["missing", "wrong", "basic", "empty"])
def test_a_missing_or_wrong_token_is_401(stack: Stack, header: str | None) -> None:
    """It refuses requests without a configured bearer token, before reading the body."""
    before = (stack.row_counts(), stack.redis_snapshot())
    headers = {"Authorization": header} if header is not None else {}
    client = stack.api
    saved = client.headers.pop("Authorization")
    try:
        response = client.post("/chronos", json=VALID, headers=headers)
        listing = client.get("/chronos", headers=headers)
    finally:
        client.headers["Authorization"] = saved
    assert response.status_code == 401 and listing.status_code == 401
    assert "token" in response.json()["detail"] or "Authorization" in response.json()["detail"]
    _unchanged(stack, before)


def test_pagination_parameters_are_checked(stack: Stack) -> None:
    """It refuses a negative skip or an oversized take, naming the parameter."""
    for query, name in (("skip=-1", "skip"), ("take=0", "take"), ("take=100000", "take"), ("isActive=maybe", "isActive")):
        response = stack.api.get(f"/chronos?{query}")
        assert response.status_code == 400, query
        assert name in response.json()["detail"], response.json()


def test_resuming_a_past_one_shot_is_a_conflict(stack: Stack) -> None:
    """It refuses to resume a one-shot whose time has passed."""
    from datetime import UTC, datetime, timedelta

    at = datetime.now(UTC) + timedelta(seconds=4)  # room for a loaded machine to create and pause it first
    chrono = stack.create_http_chrono("http://127.0.0.1:9/x", cron=at.isoformat())
    stack.api.post(f"/chronos/{chrono['id']}/pause")
    import time

    time.sleep(max(0.0, at.timestamp() - time.time()) + 0.2)
    response = stack.api.post(f"/chronos/{chrono['id']}/resume")
    assert response.status_code == 409
    assert stack.jobs.count_schedule_jobs(chrono["id"]) == 0
