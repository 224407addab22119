"""Headers of an HTTP chrono: only sendable ones are accepted, and credentials are write-only."""

from __future__ import annotations

from typing import Any

import pytest

from chronoflow.targets.http import MAX_HEADER_VALUE_CHARS, MAX_HEADERS
from tests.integration.conftest import Stack


@pytest.fixture
def stack(sqlite_stack: Stack) -> Stack:
    """Header checks and what a receiver gets do not depend on the database: SQLite only
    (claims and storage are tested on both databases)."""
    return sqlite_stack


SECRETS = {
    "Authorization": "Bearer real-token-1", "Cookie": "session=abc", "Proxy-Authorization": "Basic cHJveHk=",
    "X-Api-Key": "key-1", "x-session-token": "tok-1", "X-Client-Secret": "sec-1", "X-Db-Password": "pw-1",
}
PLAIN = {"X-Tenant": "acme", "Accept": "application/json"}
HIDDEN_VIEW = {**{name: "***" for name in SECRETS}, **PLAIN}


def _create(stack: Stack, url: str, headers: dict[str, str]) -> dict[str, Any]:
    return stack.create_http_chrono(url, cron="*/5 * * * *", headers=headers)


def test_sensitive_values_are_hidden_in_every_response(stack: Stack) -> None:
    """It shows "***" for credentials on create, read, list, update and pause, and stores the real values."""
    chrono = _create(stack, "http://127.0.0.1:9/hook", {**SECRETS, **PLAIN})
    assert chrono["headers"] == HIDDEN_VIEW
    assert stack.api.get(f"/chronos/{chrono['id']}").json()["headers"] == HIDDEN_VIEW
    assert [c["headers"] for c in stack.api.get("/chronos").json()["items"]] == [HIDDEN_VIEW]
    assert stack.api.patch(f"/chronos/{chrono['id']}", json={"name": "renamed"}).json()["headers"] == HIDDEN_VIEW
    assert stack.api.post(f"/chronos/{chrono['id']}/pause").json()["headers"] == HIDDEN_VIEW
    assert stack.chrono(chrono["id"]).headers == {**SECRETS, **PLAIN}


def test_sending_back_what_was_read_keeps_the_stored_secrets(stack: Stack) -> None:
    """It keeps a credential sent back as "***" (any case), replaces one sent anew, and drops one left out."""
    chrono = _create(stack, "http://127.0.0.1:9/hook", {**SECRETS, **PLAIN})
    read = stack.api.get(f"/chronos/{chrono['id']}").json()["headers"]
    changed = {**read, "X-Tenant": "globex", "X-Api-Key": "key-2"}
    del changed["Cookie"]
    changed["authorization"] = changed.pop("Authorization")
    response = stack.api.patch(f"/chronos/{chrono['id']}", json={"headers": changed})
    assert response.status_code == 200, response.text
    secret_names = {name.lower() for name in SECRETS}
    assert response.json()["headers"] == {name: "***" if name.lower() in secret_names else value
                                          for name, value in changed.items()}
    expected = {name: value for name, value in {**SECRETS, **PLAIN}.items() if name not in ("Cookie", "Authorization")}
    assert stack.chrono(chrono["id"]).headers == {
        **expected, "X-Tenant": "globex", "X-Api-Key": "key-2", "authorization": "Bearer real-token-1",
    }


@pytest.mark.parametrize("headers", [{"Authorization": "***"}, {"X-New-Token": "***"}],
                         ids=["nothing-stored", "other-name"])
def test_a_placeholder_with_nothing_behind_it_is_refused(stack: Stack, headers: dict[str, str]) -> None:
    """It refuses "***" for a credential the chrono does not have, on create and on update, writing nothing."""
    name = next(iter(headers))
    created = stack.api.post("/chronos", json={"name": "x", "cron": "0 8 * * *", "targetType": "HTTP",
                                               "url": "http://127.0.0.1:9/", "headers": headers})
    assert created.status_code == 422 and created.json()["field"] == f"headers.{name}", created.text
    chrono = _create(stack, "http://127.0.0.1:9/hook", {"X-Api-Key": "key-1"})
    before = (stack.row_counts(), stack.redis_snapshot())
    response = stack.api.patch(f"/chronos/{chrono['id']}", json={"headers": headers})
    assert response.status_code == 422 and response.json()["field"] == f"headers.{name}", response.text
    assert (stack.row_counts(), stack.redis_snapshot()) == before
    assert stack.chrono(chrono["id"]).headers == {"X-Api-Key": "key-1"}


def test_the_worker_sends_the_real_values(stack: Stack, http_receiver: Any) -> None:
    """It sends the stored credentials, not the placeholder, also after a round trip through PATCH."""
    chrono = _create(stack, http_receiver.url + "/hook", {**SECRETS, **PLAIN})
    read = stack.api.get(f"/chronos/{chrono['id']}").json()["headers"]
    assert stack.api.patch(f"/chronos/{chrono['id']}", json={"headers": read}).status_code == 200
    stack.run_due(chrono["id"])
    (request,) = http_receiver.wait_for(1)
    for name, value in {**SECRETS, **PLAIN}.items():
        assert request.headers[name.lower()] == value


BAD_HEADERS = [
    pytest.param({"X-Name": "Olá"}, "X-Name", "printable ASCII", id="non-ascii-value"),
    pytest.param({"X-Name": "a\r\nX-Injected: 1"}, "X-Name", "line breaks", id="crlf-in-value"),
    pytest.param({"X-Name": "a\nb"}, "X-Name", "line breaks", id="lf-in-value"),
    pytest.param({"X-Name": "a\x00b"}, "X-Name", "control characters", id="nul-in-value"),
    pytest.param({"X-Name": "a\x7fb"}, "X-Name", "control characters", id="del-in-value"),
    pytest.param({"X Name": "1"}, "X Name", "not a valid header name", id="space-in-name"),
    pytest.param({"X-Name:": "1"}, "X-Name:", "not a valid header name", id="colon-in-name"),
    pytest.param({"Nömé": "1"}, "Nömé", "not a valid header name", id="non-ascii-name"),
    pytest.param({"": "1"}, "", "not a valid header name", id="empty-name"),
    pytest.param({"X-Bad\r\nInjected": "1"}, "X-Bad\r\nInjected", "not a valid header name", id="crlf-in-name"),
    pytest.param({"Content-Length": "5"}, "Content-Length", "set by ChronoFlow", id="framing-header"),
    pytest.param({"x-chronoflow-signature": "sha256=0"}, "x-chronoflow-signature", "set by ChronoFlow",
                 id="signature-header"),
    pytest.param({"X-A": "1", "x-a": "2"}, "x-a", "repeats header 'X-A'", id="same-name-twice"),
]


@pytest.mark.parametrize(("headers", "name", "problem"), BAD_HEADERS)
def test_unsendable_headers_are_a_422_naming_the_header(stack: Stack, headers: dict[str, str], name: str,
                                                        problem: str) -> None:
    """It refuses a header that cannot be sent, naming ``headers.<Name>`` and the problem; nothing is written."""
    before = (stack.row_counts(), stack.redis_snapshot())
    response = stack.api.post("/chronos", json={"name": "x", "cron": "0 8 * * *", "targetType": "HTTP",
                                                "url": "http://127.0.0.1:9/", "headers": headers})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == f"headers.{name}" and problem in response.json()["detail"], response.json()
    assert (stack.row_counts(), stack.redis_snapshot()) == before


def test_header_count_and_value_size_are_bounded(stack: Stack) -> None:
    """It answers 413 past MAX_HEADERS headers or a value over MAX_HEADER_VALUE_CHARS, and accepts both limits."""
    base = {"name": "x", "cron": "0 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/"}
    before = (stack.row_counts(), stack.redis_snapshot())
    many = {f"X-H{i}": "v" for i in range(MAX_HEADERS + 1)}
    response = stack.api.post("/chronos", json={**base, "headers": many})
    assert response.status_code == 413 and response.json()["field"] == "headers", response.text
    response = stack.api.post("/chronos", json={**base, "headers": {"X-Big": "v" * (MAX_HEADER_VALUE_CHARS + 1)}})
    assert response.status_code == 413 and response.json()["field"] == "headers.X-Big", response.text
    assert (stack.row_counts(), stack.redis_snapshot()) == before
    at_limit = {f"X-H{i}": "v" for i in range(MAX_HEADERS - 1)} | {"X-Big": "v" * MAX_HEADER_VALUE_CHARS}
    assert stack.api.post("/chronos", json={**base, "headers": at_limit}).status_code == 201


def test_a_stored_header_that_cannot_be_sent_fails_the_run_clearly(stack: Stack, http_receiver: Any) -> None:
    """It fails (not crashes) a run whose header was stored before headers were checked, and sends nothing."""
    from chronoflow.store.models import Chrono

    chrono = _create(stack, http_receiver.url + "/hook", {"X-Name": "ok"})

    async def store_legacy_header() -> None:
        async with stack.db.session() as session:
            row = await session.get(Chrono, chrono["id"])
            assert row is not None
            row.headers = {"X-Name": "Olá"}

    stack.db_run(store_legacy_header())
    stack.env["JOB_ATTEMPTS"] = "1"
    stack.run_due(chrono["id"])
    (run,) = stack.runs(chrono["id"])
    assert run.status == "failed" and run.error_message == (
        "a header cannot be sent: header names and values must be ASCII")
    assert http_receiver.requests == []
