"""``/functions``: upload checked in the sandbox, versions and checksums, test runs, and bad input."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.integration.functions.conftest import FunctionStack

COUNTER = '''
def run(ctx):
    n = (ctx.state.get("n") or 0) + 1
    ctx.state.set("n", n)
    ctx.log("n is", n)
    return {"n": n, "who": ctx.extras.get("who")}
'''


def test_upload_stores_version_1_and_the_sha256_of_the_code(fn: FunctionStack) -> None:
    """It stores the code with version 1, its SHA-256 checksum and every limit."""
    created = fn.upload(COUNTER, name="counter", description="counts", limits={"timeoutMs": 2000})
    assert created["version"] == 1
    assert created["checksum"] == hashlib.sha256(COUNTER.encode()).hexdigest()
    assert created["limits"]["timeoutMs"] == 2000 and created["limits"]["maxMemoryMb"] == 256
    assert created["state"] == {} and created["description"] == "counts"
    assert fn.api.get(f"/functions/{created['id']}").json() == created
    listed = fn.api.get("/functions", params={"take": 1}).json()
    assert listed["total"] == 1 and listed["skip"] == 0 and listed["take"] == 1
    assert [f["id"] for f in listed["items"]] == [created["id"]]


def test_patch_bumps_version_and_checksum_and_runs_record_it(fn: FunctionStack) -> None:
    """It makes a new version of new code; each run records the version it ran."""
    created = fn.upload("def run(ctx):\n    return 1\n")
    chrono = fn.create_chrono(functionId=created["id"])
    fn.run_due(chrono["id"])
    new_code = "def run(ctx):\n    return 2\n"
    updated = fn.api.patch(f"/functions/{created['id']}", json={"code": new_code}).json()
    assert updated["version"] == 2
    assert updated["checksum"] == hashlib.sha256(new_code.encode()).hexdigest() != created["checksum"]
    renamed = fn.api.patch(f"/functions/{created['id']}", json={"name": "renamed"}).json()
    assert renamed["version"] == 2 and renamed["name"] == "renamed"  # only code or limits make a version
    assert fn.api.patch(f"/functions/{created['id']}", json={"limits": {"timeoutMs": 1000}}).json()["version"] == 3
    fn.run_due(chrono["id"])
    runs = sorted(fn.stack.runs(chrono["id"]), key=lambda r: r.started_at)
    assert [(r.status, r.result, r.function_version) for r in runs] == [("success", 1, 1), ("success", 2, 3)]
    api_runs = fn.api.get(f"/chronos/{chrono['id']}/runs").json()["items"]
    assert [r["functionVersion"] for r in api_runs] == [3, 1]


@pytest.mark.parametrize(("code", "line", "words"), [
    pytest.param("def run(ctx):\n    return (1,\n", 2, "SyntaxError", id="syntax-error"),
    pytest.param("import os\n\ndef run(ctx):\n    return os.getcwd()\n", 1, "'os' is not allowed", id="import-os"),
    pytest.param("def run(ctx):\n    from subprocess import run\n", 2, "not allowed", id="import-subprocess"),
    pytest.param("def run(ctx):\n    return ().__class__\n", 2, "__class__", id="dunder-class"),
    pytest.param("def run(ctx):\n    return getattr(ctx, '_call')\n", 0, "", id="no-getattr-is-runtime"),
    pytest.param("def run(ctx):\n    exec('1')\n", 2, "Exec calls are not allowed", id="exec"),
    pytest.param("def handler(event):\n    return 1\n", 0, "def run(ctx)", id="no-run"),
    pytest.param("def run(ctx):\n    from json import codecs\n", 2, "codecs", id="module-member-absent"),
])
def test_refused_code_is_a_422_with_line_and_nothing_is_stored(fn: FunctionStack, code: str, line: int,
                                                               words: str) -> None:
    """It compiles the upload in the sandbox; a refusal names the line and the reason, and stores nothing."""
    before = fn.snapshot()
    response = fn.api.post("/functions", json={"name": "bad", "code": code})
    if not words:  # a name that is only missing at run time: accepted (RestrictedPython has no getattr)
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["field"] == "code" and error["line"] == line and words in error["reason"], error
    assert "/" not in error["detail"].replace("def run", ""), error  # no host path
    assert fn.snapshot() == before


def test_inline_code_refused_on_a_chrono_writes_nothing(fn: FunctionStack) -> None:
    """It refuses inline functionCode with a forbidden construct: 422 naming functionCode and the line."""
    before = fn.snapshot()
    response = fn.api.post("/chronos", json={"name": "x", "cron": "0 8 * * *", "targetType": "FUNCTION",
                                             "functionCode": "import os\ndef run(ctx):\n    pass\n"})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "functionCode" and "line 1" in response.json()["detail"]
    assert fn.snapshot() == before


VALID_CHRONO = {"name": "ok", "cron": "0 8 * * *", "targetType": "FUNCTION"}
GOOD_CODE = "def run(ctx):\n    return 1\n"

BAD_CHRONOS = [
    pytest.param({"functionId": "no-such-function"}, 422, "functionId", id="unknown-function-id"),
    pytest.param({}, 422, "functionId", id="missing-function"),
    pytest.param({"functionCode": GOOD_CODE, "functionLimits": {"timeoutMs": 10}}, 422, "functionLimits",
                 id="limit-out-of-bounds"),
    pytest.param({"functionCode": GOOD_CODE, "functionLimits": {"colour": 1}}, 422, "functionLimits",
                 id="unknown-limit"),
    pytest.param({"functionCode": GOOD_CODE, "functionLimits": {"timeoutMs": "fast"}}, 422, "functionLimits",
                 id="limit-not-integer"),
    pytest.param({"functionCode": GOOD_CODE, "extras": [1, 2]}, 400, "extras", id="extras-not-object"),
    pytest.param({"functionCode": GOOD_CODE, "extras": "x"}, 400, "extras", id="extras-string"),
    pytest.param({"functionCode": GOOD_CODE, "channelId": "no-such-channel"}, 422, "channelId",
                 id="unknown-channel"),
    pytest.param({"functionCode": GOOD_CODE, "cron": "61 * * * *"}, 422, "cron", id="bad-cron-after-code"),
    pytest.param({"functionCode": ""}, 422, "functionCode", id="empty-code"),
]


@pytest.mark.parametrize(("fields", "status", "field"), BAD_CHRONOS)
def test_bad_function_chronos_are_refused_and_write_nothing(fn: FunctionStack, fields: dict[str, Any], status: int,
                                                            field: str) -> None:
    """It answers 4xx naming the field; no chrono, function, run or job is left behind."""
    fn.create_chrono(functionCode=GOOD_CODE)
    before = fn.snapshot()
    response = fn.api.post("/chronos", json={**VALID_CHRONO, **fields})
    assert response.status_code == status, response.text
    assert field in response.json()["detail"], response.json()
    assert fn.snapshot() == before


def test_a_chrono_validation_failure_after_inline_code_rolls_the_function_back(fn: FunctionStack) -> None:
    """It creates the inline function in the request's transaction: a later failure leaves none."""
    before = fn.snapshot()
    response = fn.api.post("/chronos", json={**VALID_CHRONO, "functionCode": GOOD_CODE,
                                             "channelId": "no-such-channel"})
    assert response.status_code == 422
    assert fn.snapshot() == before


@pytest.mark.parametrize(("body", "status", "field"), [
    pytest.param({"name": "x", "code": GOOD_CODE, "limits": {"maxMemoryMb": 1}}, 422, "limits", id="limits"),
    pytest.param({"name": " ", "code": GOOD_CODE}, 422, "name", id="blank-name"),
    pytest.param({"name": "x", "code": "   "}, 422, "code", id="blank-code"),
    pytest.param({"name": "x"}, 400, "code", id="missing-code"),
    pytest.param({"name": "x", "code": GOOD_CODE, "channelId": "nope"}, 422, "channelId", id="unknown-channel"),
    pytest.param({"name": "x", "code": GOOD_CODE, "colour": "red"}, 400, "colour", id="unknown-field"),
])
def test_bad_uploads_name_the_field_and_store_nothing(fn: FunctionStack, body: dict[str, Any], status: int,
                                                      field: str) -> None:
    """It answers 4xx naming the field, with nothing stored."""
    before = fn.snapshot()
    response = fn.api.post("/functions", json=body)
    assert response.status_code == status, response.text
    assert field in response.json()["detail"], response.json()
    assert fn.snapshot() == before


def test_a_refused_patch_keeps_the_function(fn: FunctionStack) -> None:
    """It refuses bad new code and keeps code, version and checksum as they were."""
    created = fn.upload(GOOD_CODE)
    response = fn.api.patch(f"/functions/{created['id']}", json={"code": "def run(ctx):\n    return ctx._call\n"})
    assert response.status_code == 422 and response.json()["line"] == 2
    assert fn.api.get(f"/functions/{created['id']}").json() == created


def test_unknown_function_ids_are_404(fn: FunctionStack) -> None:
    """It answers 404 on every route for an unknown id."""
    for method, path, body in [("get", "/functions/nope", None), ("patch", "/functions/nope", {"name": "x"}),
                               ("delete", "/functions/nope", None), ("post", "/functions/nope/test", {})]:
        kwargs = {"json": body} if body is not None else {}
        assert getattr(fn.api, method)(path, **kwargs).status_code == 404, path


def test_delete_refuses_a_function_in_use_and_deletes_an_unused_one(fn: FunctionStack) -> None:
    """It keeps a function a chrono still runs (409), and deletes it once the chrono is gone."""
    created = fn.upload(GOOD_CODE)
    chrono = fn.create_chrono(functionId=created["id"])
    assert fn.api.delete(f"/functions/{created['id']}").status_code == 409
    assert fn.api.delete(f"/chronos/{chrono['id']}").status_code == 204
    assert fn.api.delete(f"/functions/{created['id']}").status_code == 204
    assert fn.api.get(f"/functions/{created['id']}").status_code == 404


def test_test_runs_now_and_keeps_the_state_unless_asked(fn: FunctionStack) -> None:
    """It returns result, logs and error synchronously; the state is stored only with persistState."""
    created = fn.upload(COUNTER)
    url = f"/functions/{created['id']}/test"
    answer = fn.api.post(url, json={"extras": {"who": "ana"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success" and body["result"] == {"n": 1, "who": "ana"}
    assert body["logs"] == ["n is 1"] and body["error"] is None and body["version"] == 1
    assert body["state"] == {"n": 1} and body["statePersisted"] is False
    assert fn.api.get(f"/functions/{created['id']}").json()["state"] == {}

    kept = fn.api.post(url, json={"extras": {"who": "bia"}, "persistState": True}).json()
    assert kept["result"] == {"n": 1, "who": "bia"} and kept["statePersisted"] is True
    assert fn.api.get(f"/functions/{created['id']}").json()["state"] == {"n": 1}
    assert fn.api.post(url, json={}).json()["result"] == {"n": 2, "who": None}


def test_test_reports_the_error_and_the_users_traceback_only(fn: FunctionStack) -> None:
    """It returns the error with a traceback of the user's frames, and no host path."""
    created = fn.upload("def run(ctx):\n    ctx.log('before')\n    return 1 / 0\n")
    body = fn.api.post(f"/functions/{created['id']}/test", json={"persistState": True}).json()
    assert body["status"] == "failed" and body["result"] is None
    assert body["error"] == "ZeroDivisionError: division by zero"
    assert 'File "<function>", line 3, in run' in body["traceback"]
    assert "/work" not in body["traceback"] and ".py" not in body["traceback"]
    assert body["logs"] == ["before"] and body["statePersisted"] is False


def test_test_refuses_non_object_extras(fn: FunctionStack) -> None:
    """It answers 400 naming extras."""
    created = fn.upload(GOOD_CODE)
    response = fn.api.post(f"/functions/{created['id']}/test", json={"extras": [1]})
    assert response.status_code == 400 and "extras" in response.json()["detail"]


def test_state_can_be_reset_by_patch(fn: FunctionStack) -> None:
    """It replaces the state on PATCH without making a new version."""
    created = fn.upload(COUNTER)
    fn.api.post(f"/functions/{created['id']}/test", json={"persistState": True})
    reset = fn.api.patch(f"/functions/{created['id']}", json={"state": {}}).json()
    assert reset["state"] == {} and reset["version"] == 1


def test_patching_a_function_chrono_keeps_or_replaces_its_function(fn: FunctionStack) -> None:
    """It keeps the function on an unrelated PATCH; new functionCode makes a new function, the old one stays."""
    chrono = fn.create_chrono(functionCode=GOOD_CODE, extras={"a": 1})
    renamed = fn.api.patch(f"/chronos/{chrono['id']}", json={"name": "renamed"}).json()
    assert renamed["functionId"] == chrono["functionId"] and renamed["extras"] == {"a": 1}
    recoded = fn.api.patch(f"/chronos/{chrono['id']}", json={"functionCode": "def run(ctx):\n    return 2\n"})
    assert recoded.status_code == 200, recoded.text
    assert recoded.json()["functionId"] != chrono["functionId"]
    assert fn.api.get(f"/functions/{chrono['functionId']}").status_code == 200
    assert fn.function_count() == 2
