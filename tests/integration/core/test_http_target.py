"""The HTTP target against a real receiver: method, headers, payload, signature, snippet."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from tests.integration.conftest import Stack


@pytest.fixture
def stack(sqlite_stack: Stack) -> Stack:
    """What a receiver gets does not depend on the database: SQLite only (claims and storage
    are tested on both databases)."""
    return sqlite_stack


SECRET = "s3cret-signing-key-0123"


def test_it_sends_method_headers_and_json_payload_signed(stack: Stack, http_receiver) -> None:
    """It sends the configured request and an HMAC-SHA256 signature a receiver can verify."""
    chrono = stack.create_http_chrono(
        http_receiver.url + "/hook?a=1", cron="*/5 * * * *", method="PUT",
        headers={"X-Tenant": "acme"}, payload={"olá": "mundo", "n": [1, 2]}, signingSecret=SECRET,
    )
    assert chrono["hasSigningSecret"] is True and "signingSecret" not in chrono
    stack.run_due(chrono["id"])
    request = http_receiver.wait_for(1)[0]
    assert request.method == "PUT" and request.path == "/hook" and request.query == {"a": ["1"]}
    assert request.headers["x-tenant"] == "acme"
    assert request.json() == {"olá": "mundo", "n": [1, 2]}
    timestamp = request.headers["x-chronoflow-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-chronoflow-signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 60


def test_it_keeps_status_and_the_first_2kb_of_the_body(stack: Stack, http_receiver) -> None:
    """It stores the status code and a 2 KB snippet of the response."""
    http_receiver.respond("/big", status=201, body="x" * 5000)
    chrono = stack.create_http_chrono(http_receiver.url + "/big", cron="*/5 * * * *", method="GET")
    stack.run_due(chrono["id"])
    (run,) = stack.runs(chrono["id"])
    assert run.status == "success" and run.http_status == 201
    assert run.response_snippet == "x" * 2048
    assert run.duration_ms is not None and run.finished_at >= run.started_at
    stored = stack.chrono(chrono["id"])
    assert stored.last_run_status == "success" and stored.last_run_at == run.started_at


def test_a_redirect_counts_as_success_and_is_not_followed(stack: Stack, http_receiver) -> None:
    """It treats a 3xx as success without following it."""
    http_receiver.respond("/moved", status=302, body="", headers={"Location": "http://127.0.0.1:9/elsewhere"})
    chrono = stack.create_http_chrono(http_receiver.url + "/moved", cron="*/5 * * * *")
    stack.run_due(chrono["id"])
    assert [(r.status, r.http_status) for r in stack.runs(chrono["id"])] == [("success", 302)]


def test_a_slow_receiver_times_out(stack: Stack, http_receiver) -> None:
    """It ends a call that outlives HTTP_REQUEST_TIMEOUT_MS with status timeout."""
    http_receiver.respond("/slow", delay=5)
    stack.env["JOB_ATTEMPTS"] = "1"
    chrono = stack.create_http_chrono(http_receiver.url + "/slow", cron="*/5 * * * *")
    stack.run_due(chrono["id"])
    (run,) = stack.runs(chrono["id"])
    assert run.status == "timeout" and "3 s" in run.error_message
