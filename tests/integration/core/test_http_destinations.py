"""Destinations an HTTP chrono may not call, refused at creation and at run time.

No packet goes anywhere but loopback: link-local, metadata and private destinations are only
ever validated, never called, and the run-time check is shown with ``localhost`` and 127.0.0.1
under HTTP_TARGET_DENY_PRIVATE.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.integration.conftest import Stack

REFUSED_BY_DEFAULT = [
    ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata address"),
    ("http://[fd00:ec2::254]/latest/", "cloud metadata address"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata name"),
    ("http://metadata.goog./", "cloud metadata name"),
    ("http://instance-data/latest/", "cloud metadata name"),
    ("http://169.254.10.1:8080/hook", "link-local address"),
    ("http://[fe80::1]/hook", "link-local address"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata address"),
    ("http://2852039166/", "is 169.254.169.254"),
    ("http://[::1/", "cannot be read"),
    ("http://[::1]:99999/", "out of range"),
    ("http://user:pw@example.com/", "user name or password"),
]


def _snapshot(stack: Stack) -> tuple[Any, ...]:
    return stack.row_counts(), stack.redis_snapshot()


@pytest.mark.parametrize(("url", "problem"), REFUSED_BY_DEFAULT, ids=[u for u, _ in REFUSED_BY_DEFAULT])
def test_refused_urls_are_a_422_naming_url_and_write_nothing(stack: Stack, url: str, problem: str) -> None:
    """It refuses metadata, link-local and unreadable URLs at creation, with nothing stored or scheduled."""
    before = _snapshot(stack)
    response = stack.api.post("/chronos", json={"name": "x", "cron": "0 8 * * *", "targetType": "HTTP", "url": url})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "url" and problem in response.json()["detail"], response.json()
    assert _snapshot(stack) == before


def test_a_patch_to_a_metadata_url_is_refused_and_keeps_the_chrono(stack: Stack) -> None:
    """It refuses a PATCH moving a chrono onto the metadata service and leaves it as it was."""
    chrono = stack.create_http_chrono("http://127.0.0.1:9/hook")
    before = _snapshot(stack)
    response = stack.api.patch(f"/chronos/{chrono['id']}", json={"url": "http://169.254.169.254/"})
    assert response.status_code == 422 and response.json()["field"] == "url"
    assert _snapshot(stack) == before and stack.api.get(f"/chronos/{chrono['id']}").json() == chrono


def test_the_operator_may_allow_link_local_destinations(stack: Stack) -> None:
    """It accepts a link-local or metadata URL when HTTP_TARGET_ALLOW_LINK_LOCAL is set (nothing is run)."""
    stack.settings = dataclasses.replace(stack.settings, http_target_allow_link_local=True)
    for url in ("http://169.254.169.254/latest/", "http://metadata.google.internal/"):
        response = stack.api.post("/chronos", json={"name": "cloud", "cron": "0 8 * * *", "targetType": "HTTP",
                                                    "url": url, "isActive": False})
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://10.1.2.3/", "http://[::1]/",
                                 "http://192.168.0.10/", "http://100.64.1.1/", "http://[fd12::1]/", "http://0/"])
def test_deny_private_refuses_private_and_loopback_literals_at_creation(stack: Stack, url: str) -> None:
    """It refuses private and loopback addresses at creation for shared installations."""
    stack.settings = dataclasses.replace(stack.settings, http_target_deny_private=True)
    before = _snapshot(stack)
    response = stack.api.post("/chronos", json={"name": "x", "cron": "0 8 * * *", "targetType": "HTTP", "url": url})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "url" and "HTTP_TARGET_DENY_PRIVATE" in response.json()["detail"]
    assert _snapshot(stack) == before


def test_a_name_resolving_to_loopback_is_refused_at_run_time_under_deny_private(
    sqlite_stack: Stack, http_receiver: Any,
) -> None:
    """It checks the address a name resolves to when the run connects: a failed run, not retried, no request sent."""
    port = http_receiver.url.rsplit(":", 1)[1]
    chrono = sqlite_stack.create_http_chrono(f"http://localhost:{port}/hook", cron="0 0 1 1 *")
    sqlite_stack.api.post(f"/chronos/{chrono['id']}/trigger")
    sqlite_stack.drain()
    assert [r.status for r in sqlite_stack.runs(chrono["id"])] == ["success"]  # localhost works by default
    http_receiver.clear()

    sqlite_stack.env["HTTP_TARGET_DENY_PRIVATE"] = "1"
    run_id = sqlite_stack.api.post(f"/chronos/{chrono['id']}/trigger").json()["runId"]
    sqlite_stack.drain()
    run = sqlite_stack.api.get(f"/runs/{run_id}").json()
    assert run["status"] == "failed" and run["attempt"] == 1, run
    assert run["errorMessage"].startswith("destination refused: localhost resolves to "), run
    assert "loopback address" in run["errorMessage"] and "HTTP_TARGET_DENY_PRIVATE" in run["errorMessage"]
    assert "attempt 2" not in run["errorMessage"] and len(sqlite_stack.runs(chrono["id"])) == 2  # not retried
    assert http_receiver.requests == []


def test_a_literal_address_allowed_at_creation_is_checked_again_at_run_time(
    sqlite_stack: Stack, http_receiver: Any,
) -> None:
    """It refuses a loopback URL stored before the operator set HTTP_TARGET_DENY_PRIVATE."""
    chrono = sqlite_stack.create_http_chrono(http_receiver.url + "/hook", cron="*/5 * * * *")
    sqlite_stack.env["HTTP_TARGET_DENY_PRIVATE"] = "1"
    sqlite_stack.run_due(chrono["id"])
    (run,) = sqlite_stack.runs(chrono["id"])
    assert run.status == "failed" and "127.0.0.1 is a loopback address" in run.error_message
    assert http_receiver.requests == []


def test_an_operator_proxy_carries_the_call_and_resolves_the_name(sqlite_stack: Stack, http_receiver: Any) -> None:
    """It sends through the proxy the worker's environment names, without resolving the host itself."""
    for name in ("HTTP_PROXY", "http_proxy"):
        sqlite_stack.env[name] = http_receiver.url  # the receiver plays the proxy
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        sqlite_stack.env[name] = ""
    chrono = sqlite_stack.create_http_chrono("http://proxied.invalid/hook", cron="*/5 * * * *", method="GET")
    sqlite_stack.run_due(chrono["id"])
    (request,) = http_receiver.wait_for(1)
    assert (request.path, request.headers["host"]) == ("/hook", "proxied.invalid")
    assert [(r.status, r.http_status) for r in sqlite_stack.runs(chrono["id"])] == [("success", 200)]
