"""Limits: request body, payload, extras, description and schedule sizes; lists without the large fields."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from litestar.testing import TestClient

from chronoflow.api.app import create_app
from chronoflow.api.chronos import LEFT_OUT_OF_LISTS
from chronoflow.checks import MAX_DESCRIPTION_CHARS
from chronoflow.chronos.service import MAX_EXTRAS_BYTES, MAX_PAYLOAD_BYTES
from chronoflow.nlcron.parser import MAX_EXPRESSION_CHARS
from tests.integration.conftest import TOKEN, Stack

VALID = {"name": "ok", "cron": "0 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/hook"}
LIST_OMITS = {"payload", "recipients", "extras", "messageTemplate"}


def refused(response: Any, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["statusCode"], body["field"]) == (status, field), body
    return str(body["detail"])


def test_the_request_body_limit_is_the_configured_one(stack: Stack) -> None:
    """It accepts a body of exactly MAX_REQUEST_BODY_BYTES and refuses one byte more with 413 ``body``."""
    limit = 4096
    settings = dataclasses.replace(stack.settings, max_request_body_bytes=limit)
    raw = json.dumps(VALID).encode()
    exact = raw[:-1] + b" " * (limit - len(raw)) + b"}"
    with TestClient(create_app(settings, stack.redis_url, stack.database_url)) as client:
        client.headers.update({"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        before = (stack.row_counts(), stack.redis_snapshot())
        detail = refused(client.post("/chronos", content=exact[:-1] + b" }"), 413, "body")
        assert str(limit) in detail
        assert (stack.row_counts(), stack.redis_snapshot()) == before
        assert client.post("/chronos", content=exact).status_code == 201


def test_payload_and_extras_are_bounded_in_serialized_bytes(stack: Stack) -> None:
    """It accepts a payload or extras of exactly the limit and refuses one byte more, on create and update."""
    at_limit = "x" * (MAX_PAYLOAD_BYTES - 2)  # the quotes make up the rest
    created = stack.api.post("/chronos", json={**VALID, "payload": at_limit})
    assert created.status_code == 201, created.text
    extras_at_limit = {"k": "y" * (MAX_EXTRAS_BYTES - len('{"k":""}'))}
    assert stack.api.post("/chronos", json={**VALID, "extras": extras_at_limit}).status_code == 201
    chrono = created.json()
    before = (stack.row_counts(), stack.redis_snapshot())
    refused(stack.api.post("/chronos", json={**VALID, "payload": at_limit + "x"}), 413, "payload")
    refused(stack.api.post("/chronos", json={**VALID, "extras": {"k": extras_at_limit["k"] + "y"}}), 413, "extras")
    detail = refused(stack.api.patch(f"/chronos/{chrono['id']}", json={"payload": {"a": at_limit}}), 413, "payload")
    assert str(MAX_PAYLOAD_BYTES) in detail
    assert (stack.row_counts(), stack.redis_snapshot()) == before
    assert stack.api.get(f"/chronos/{chrono['id']}").json() == chrono


def test_description_and_schedule_lengths_are_bounded(stack: Stack) -> None:
    """It accepts a description of MAX_DESCRIPTION_CHARS and refuses longer ones, and overlong crons."""
    assert stack.api.post("/chronos", json={**VALID, "description": "d" * MAX_DESCRIPTION_CHARS}).status_code == 201
    before = (stack.row_counts(), stack.redis_snapshot())
    refused(stack.api.post("/chronos", json={**VALID, "description": "d" * (MAX_DESCRIPTION_CHARS + 1)}), 422,
            "description")
    refused(stack.api.post("/chronos", json={**VALID, "cron": "0 8 * * *" + " " * MAX_EXPRESSION_CHARS + "x"}), 422,
            "cron")
    assert (stack.row_counts(), stack.redis_snapshot()) == before


def test_a_function_description_is_bounded_as_a_chronos(stack: Stack) -> None:
    """It refuses a function description over MAX_DESCRIPTION_CHARS on upload and update, keeping the function."""
    code = "def run(ctx):\n    return 1\n"
    created = stack.api.post("/functions", json={"name": "f", "code": code, "description": "d" * MAX_DESCRIPTION_CHARS})
    assert created.status_code == 201, created.text
    too_long = "d" * (MAX_DESCRIPTION_CHARS + 1)
    refused(stack.api.post("/functions", json={"name": "g", "code": code, "description": too_long}), 422, "description")
    refused(stack.api.patch(f"/functions/{created.json()['id']}", json={"description": too_long}), 422, "description")
    assert stack.api.get("/functions").json()["total"] == 1
    assert stack.api.get(f"/functions/{created.json()['id']}").json() == created.json()


def test_chrono_lists_leave_the_large_fields_out(stack: Stack) -> None:
    """It lists chronos without payload, recipients, extras and messageTemplate; reading one returns them."""
    assert {name.replace("_t", "T") for name in LEFT_OUT_OF_LISTS} == LIST_OMITS
    payload, extras = {"big": "p" * 1000}, {"usersUrl": "http://127.0.0.1:9/users"}
    chrono = stack.create_http_chrono("http://127.0.0.1:9/list", payload=payload, extras=extras,
                                      headers={"X-Team": "billing"})
    full = stack.api.get(f"/chronos/{chrono['id']}").json()
    assert full["payload"] == payload and full == chrono
    [item] = stack.api.get("/chronos").json()["items"]
    assert LIST_OMITS.isdisjoint(item)
    assert item == {key: value for key, value in full.items() if key not in LIST_OMITS}


def test_function_lists_leave_code_and_state_out(stack: Stack) -> None:
    """It lists functions without their code and state; reading one returns them."""
    code = "def run(ctx):\n    return 1\n"
    created = stack.api.post("/functions", json={"name": "f", "code": code})
    assert created.status_code == 201, created.text
    [item] = stack.api.get("/functions").json()["items"]
    full = stack.api.get(f"/functions/{created.json()['id']}").json()
    assert full["code"] == code and full["state"] == {}
    assert item == {key: value for key, value in full.items() if key not in ("code", "state")}
