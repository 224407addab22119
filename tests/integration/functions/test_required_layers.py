"""FUNCTION_SANDBOX_REQUIRED_LAYERS end to end: uploads, test runs, FUNCTION runs and start-up logs.

A layer that cannot hold is made missing for real: the network namespace is required while
FUNCTION_SANDBOX_NETNS is off, so no child ever has it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from chronoflow.api.app import create_app
from tests.integration.conftest import TOKEN
from tests.integration.functions.conftest import FunctionStack

CODE = "def run(ctx):\n    ctx.state.set('ran', True)\n    return 'ran'\n"


@pytest.fixture
def unisolated_api(fn: FunctionStack) -> Iterator[TestClient[Any]]:
    """A second API on the same database and Redis whose sandbox lacks a required layer (netns)."""
    settings = dataclasses.replace(fn.stack.settings, function_sandbox_network_namespace=False,
                                   function_sandbox_required_layers=("rlimits", "netns", "seccomp"))
    with TestClient(create_app(settings, fn.stack.redis_url, fn.stack.database_url)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield client


def _refused_for_netns(response: Any) -> None:
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert "netns" in detail and "FUNCTION_SANDBOX_REQUIRED_LAYERS" in detail, detail


def test_uploads_and_test_runs_are_refused_naming_the_missing_layer(fn: FunctionStack, unisolated_api) -> None:
    """It denies uploads, chronos with functionCode and test runs with a 503 naming netns, writing nothing."""
    function = fn.upload(CODE)  # through the API whose sandbox is complete
    before = fn.snapshot()
    _refused_for_netns(unisolated_api.post("/functions", json={"name": "f", "code": CODE}))
    _refused_for_netns(unisolated_api.post("/chronos", json={
        "name": "c", "cron": "0 8 * * *", "targetType": "FUNCTION", "functionCode": CODE}))
    _refused_for_netns(unisolated_api.patch(f"/functions/{function['id']}", json={"code": CODE + "\n"}))
    _refused_for_netns(unisolated_api.post(f"/functions/{function['id']}/test", json={"persistState": True}))
    assert fn.snapshot() == before
    stored = fn.api.get(f"/functions/{function['id']}").json()
    assert stored["version"] == 1 and stored["state"] == {}
    health = unisolated_api.get("/health")
    assert health.status_code == 503
    assert health.json()["sandbox"]["ok"] is False and health.json()["sandbox"]["missing"] == ["netns"]


def test_a_function_run_fails_naming_the_missing_layer_and_is_not_retried(sqlite_fn: FunctionStack) -> None:
    """It denies a FUNCTION run on a worker lacking a required layer: failed once, the layer named, no code run."""
    chrono = sqlite_fn.create_chrono(functionCode=CODE)
    sqlite_fn.stack.env.update({"FUNCTION_SANDBOX_NETNS": "0", "FUNCTION_SANDBOX_REQUIRED_LAYERS": "rlimits,netns"})
    sqlite_fn.stack.hand_over(sqlite_fn.stack.jobs.scheduled_due(chrono["id"]))
    output = sqlite_fn.stack.drain()
    (run,) = sqlite_fn.stack.runs(chrono["id"])
    assert run.status == "failed" and run.result is None
    assert "netns" in run.error_message and "FUNCTION_SANDBOX_REQUIRED_LAYERS" in run.error_message
    assert sqlite_fn.api.get(f"/functions/{chrono['functionId']}").json()["state"] == {}  # no code ran
    assert sqlite_fn.stack.hand_over() == 0 and not sqlite_fn.stack.queued()  # no retry scheduled
    assert "lacks required layer(s) netns" in output, output  # the worker said so at start


def test_the_worker_logs_its_layers_at_start(sqlite_fn: FunctionStack) -> None:
    """It logs the layers a worker's sandbox child really had, and the required ones."""
    sqlite_fn.stack.env["LOG_LEVEL"] = "INFO"
    output = sqlite_fn.stack.drain()
    line = next((ln for ln in output.splitlines() if "function sandbox layers:" in ln), None)
    assert line is not None, output
    assert "process-group" in line and "rlimits" in line and "seccomp" in line
    assert "(required: rlimits,no-new-privs,seccomp,setuid)" in line
