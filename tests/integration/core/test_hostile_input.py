"""Inputs that once answered 500: each is now a 4xx naming the field, and nothing reaches the stores."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from chronoflow.api.app import create_app
from chronoflow.api.paging import MAX_SKIP, MAX_TAKE
from chronoflow.functions.runners import close_shared_runners, shared_runner
from chronoflow.store.models import Function, InboundEvent
from tests.integration.conftest import Stack

VALID = {"name": "ok", "cron": "0 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/hook"}
DEEP = "[" * 5000 + "]" * 5000
WAHA_KEY = "hostile-input-waha-key"
EVOLUTION_SECRET = "hostile-input-evolution-secret"
LISTS = {"/chronos", "/chronos/{chrono_id}/runs", "/functions", "/channels", "/inbound-events"}
"""Lists that exist today; the test below also finds any added later through the OpenAPI document."""


def snapshot(stack: Stack) -> tuple[Any, ...]:
    """Rows (chronos, runs, functions, inbound events) and Redis jobs that bad input must leave as they were."""
    async def count() -> tuple[int, int]:
        async with stack.db.session() as session:
            return (int(await session.scalar(select(func.count()).select_from(Function)) or 0),
                    int(await session.scalar(select(func.count()).select_from(InboundEvent)) or 0))
    return stack.row_counts(), stack.db_run(count()), stack.redis_snapshot()


def post_raw(client: TestClient[Any], path: str, raw: str, **headers: str) -> Any:
    return client.post(path, content=raw.encode(), headers={"Content-Type": "application/json", **headers})


def assert_refused(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["statusCode"], body["field"]) == (status, field), body
    assert body["detail"].startswith(f"{field}: "), body


@pytest.fixture
def hooks(stack: Stack) -> Iterator[TestClient[Any]]:
    """The app with both webhook secrets configured, so a webhook body is read at all."""
    settings = dataclasses.replace(stack.settings, waha_webhook_hmac_key=WAHA_KEY,
                                   evolution_webhook_secret=EVOLUTION_SECRET)
    with TestClient(create_app(settings, stack.redis_url, stack.database_url)) as client:
        yield client


def test_a_payload_nested_5000_deep_is_refused_on_create_and_update(stack: Stack) -> None:
    """It answers 422 naming ``payload`` and leaves every store, and the existing chrono, as they were."""
    chrono = stack.create_http_chrono("http://127.0.0.1:9/keep")
    before = snapshot(stack)
    fields = json.dumps(VALID)[:-1]
    assert_refused(post_raw(stack.api, "/chronos", f'{fields}, "payload": {DEEP}}}'), 422, "payload")
    response = stack.api.patch(f"/chronos/{chrono['id']}", content=f'{{"payload": {DEEP}}}'.encode(),
                               headers={"Content-Type": "application/json"})
    assert_refused(response, 422, "payload")
    assert snapshot(stack) == before
    assert stack.api.get(f"/chronos/{chrono['id']}").json() == chrono


def test_a_webhook_body_nested_5000_deep_is_refused_and_not_stored(stack: Stack, hooks: TestClient[Any]) -> None:
    """It answers 422 naming the deep field of a signed WAHA or Evolution webhook, and stores no event."""
    before = snapshot(stack)
    waha = f'{{"event": "message", "session": "default", "payload": {DEEP}}}'
    signature = hmac.new(WAHA_KEY.encode(), waha.encode(), hashlib.sha512).hexdigest()
    assert_refused(post_raw(hooks, "/waha/webhooks", waha, **{"X-Webhook-Hmac": signature}), 422, "payload")
    evolution = f'{{"event": "messages.upsert", "instance": "default", "data": {DEEP}}}'
    response = post_raw(hooks, "/evolution/webhooks", evolution, **{"X-Webhook-Secret": EVOLUTION_SECRET})
    assert_refused(response, 422, "data")
    assert post_raw(hooks, "/waha/webhooks", waha, **{"X-Webhook-Hmac": "0" * 128}).status_code == 401
    assert snapshot(stack) == before


def test_skip_and_take_out_of_range_are_refused_on_every_list(stack: Stack) -> None:
    """It refuses ``skip`` past any integer and ``take`` over the cap on each list, naming the parameter."""
    document = stack.api.get("/schema/openapi.json").json()
    lists = {path for path, operations in document["paths"].items()
             if any(p["name"] == "skip" for p in operations.get("get", {}).get("parameters", []))}
    assert LISTS <= lists, lists
    for path in sorted(lists):
        concrete = re.sub(r"\{\w+\}", "nope", path)  # paging is refused before any id is looked up
        assert "{" not in concrete, f"give {path} a path parameter value"
        for query, name in ((f"skip={10**20 - 1}", "skip"), (f"skip={2**63}", "skip"), (f"skip={MAX_SKIP + 1}", "skip"),
                            (f"take={MAX_TAKE + 1}", "take"), ("take=500", "take")):
            assert_refused(stack.api.get(f"{concrete}?{query}"), 400, name)
    page = stack.api.get(f"/chronos?skip={MAX_SKIP}&take={MAX_TAKE}").json()
    assert (page["items"], page["skip"], page["take"]) == ([], MAX_SKIP, MAX_TAKE)


@pytest.mark.parametrize("expression", [
    pytest.param("in 999999999 days", id="in-999999999-days"),
    pytest.param("daqui a 99999999999 horas", id="daqui-a-99999999999-horas"),
    pytest.param("9999-12-31T23:59:59-12:00", id="iso-past-year-9999"),
    pytest.param("every " + "9" * 5000 + " minutes", id="every-5000-digits-minutes"),
])
def test_schedules_past_the_calendar_are_refused(stack: Stack, expression: str) -> None:
    """It answers 422 naming ``cron`` (create, update) or ``expression`` (parse), and writes nothing."""
    chrono = stack.create_http_chrono("http://127.0.0.1:9/keep")
    before = snapshot(stack)
    assert_refused(stack.api.post("/chronos", json={**VALID, "cron": expression}), 422, "cron")
    assert_refused(stack.api.patch(f"/chronos/{chrono['id']}", json={"cron": expression}), 422, "cron")
    assert_refused(stack.api.post("/schedules/parse", json={"expression": expression}), 422, "expression")
    assert snapshot(stack) == before


def test_function_code_while_the_sandbox_cannot_start_is_503(stack: Stack) -> None:
    """It answers 503 to a chrono carrying ``functionCode`` as ``/functions`` does, and writes nothing."""
    stack.api.get("/chronos")  # the app is up and holds its sandbox runner
    before = snapshot(stack)
    shared_runner(stack.settings).close()  # as at shutdown: no sandbox process can start any more
    try:
        code = "def run(ctx):\n    return 1\n"
        chrono = stack.api.post("/chronos", json={**VALID, "targetType": "FUNCTION", "functionCode": code})
        function = stack.api.post("/functions", json={"name": "f", "code": code})
    finally:
        close_shared_runners()
    for response in (chrono, function):
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == "the function sandbox is unavailable on this server"
    assert snapshot(stack) == before
