"""FUNCTION runs in a real worker process: statuses, limits, retries, and a worker that survives its users."""

from __future__ import annotations

import json

from tests.integration.functions.conftest import FunctionStack

HOSTILE = {
    "memory": "def run(ctx):\n    x = 'a'\n    while True:\n        x = x + x\n",
    "recursion": "def run(ctx):\n    def f(n):\n        return f(n + 1)\n    return f(0)\n",
    "busy-loop": "def run(ctx):\n    while True:\n        pass\n",
    "catch-all": "def run(ctx):\n    while True:\n        try:\n            ctx.sleep(10)\n        except BaseException:\n            pass\n",
    "huge-result": "def run(ctx):\n    return 'x' * 10000000\n",
}


def _run_all(fn: FunctionStack, chronos: list[dict]) -> None:
    fn.stack.hand_over(max(fn.stack.jobs.scheduled_due(chrono["id"]) for chrono in chronos))  # one occurrence each
    fn.stack.drain(timeout=120)


def test_a_timeout_ends_as_timeout_and_is_not_retried(sqlite_fn: FunctionStack) -> None:
    """It kills a function at timeoutMs: status timeout, one attempt only."""
    chrono = sqlite_fn.create_chrono(functionCode="def run(ctx):\n    ctx.log('start')\n    while True:\n        pass\n",
                                     functionLimits={"timeoutMs": 500})
    sqlite_fn.run_due(chrono["id"])
    (run,) = sqlite_fn.stack.runs(chrono["id"])
    assert run.status == "timeout" and run.error_message == "timed out after 500 ms"
    assert run.logs == ["start"] and run.function_version == 1
    assert sqlite_fn.stack.hand_over() == 0 and not sqlite_fn.stack.queued()  # no retry scheduled


def test_a_user_error_fails_with_its_traceback_and_keeps_the_state(sqlite_fn: FunctionStack) -> None:
    """It stores the error and the user's traceback, and saves no state of a failed run."""
    code = "def run(ctx):\n    ctx.state.set('seen', True)\n    raise ValueError('no invoices')\n"
    function = sqlite_fn.upload(code)
    chrono = sqlite_fn.create_chrono(functionId=function["id"])
    sqlite_fn.run_due(chrono["id"])
    (run,) = sqlite_fn.stack.runs(chrono["id"])
    assert run.status == "failed" and run.result is None
    assert run.error_message.startswith("ValueError: no invoices\nTraceback (most recent call last):")
    assert 'File "<function>", line 3, in run' in run.error_message and "/work" not in run.error_message
    assert sqlite_fn.api.get(f"/functions/{function['id']}").json()["state"] == {}
    assert not sqlite_fn.stack.queued() and sqlite_fn.stack.hand_over() == 0  # not retried


def test_a_memory_hog_fails_with_memory_limit(sqlite_fn: FunctionStack) -> None:
    """It ends a function past maxMemoryMb as failed, saying memory limit."""
    chrono = sqlite_fn.create_chrono(functionCode=HOSTILE["memory"], functionLimits={"maxMemoryMb": 64})
    sqlite_fn.run_due(chrono["id"])
    (run,) = sqlite_fn.stack.runs(chrono["id"])
    assert run.status == "failed" and "memory limit" in run.error_message


def test_hostile_functions_leave_the_worker_alive(sqlite_fn: FunctionStack) -> None:
    """It runs every hostile function to an end, and the same worker process then runs a good one."""
    hostile = [sqlite_fn.create_chrono(name=name, functionCode=code, functionLimits={"timeoutMs": 1000})
               for name, code in HOSTILE.items()]
    good = sqlite_fn.create_chrono(name="good", functionCode="def run(ctx):\n    return {'ok': True}\n")
    _run_all(sqlite_fn, [*hostile, good])
    statuses = {c["name"]: [(r.status, r.error_message) for r in sqlite_fn.stack.runs(c["id"])] for c in hostile}
    assert all(len(runs) == 1 and runs[0][0] in ("failed", "timeout") for runs in statuses.values()), statuses
    (good_run,) = sqlite_fn.stack.runs(good["id"])
    assert good_run.status == "success" and good_run.result == {"ok": True}
    workers = {r.worker for c in [*hostile, good] for r in sqlite_fn.stack.runs(c["id"])}
    assert len(workers) == 1  # one worker process ran them all


def test_state_persists_between_scheduled_runs(sqlite_fn: FunctionStack) -> None:
    """It saves ctx.state after each successful run; the next run starts from it."""
    code = "def run(ctx):\n    n = (ctx.state.get('n') or 0) + 1\n    ctx.state.set('n', n)\n    return n\n"
    chrono = sqlite_fn.create_chrono(functionCode=code, extras={"a": 1})
    for _ in range(3):
        sqlite_fn.run_due(chrono["id"])
    runs = sorted(sqlite_fn.stack.runs(chrono["id"]), key=lambda r: r.started_at)
    assert [r.result for r in runs] == [1, 2, 3]
    assert sqlite_fn.api.get(f"/functions/{chrono['functionId']}").json()["state"] == {"n": 3}
    summary = json.loads(runs[0].response_snippet)
    assert summary.pop("sandboxMs") >= 0
    assert summary == {"httpCount": 0, "messageCount": 0, "messages": [], "optedOut": []}


def test_messages_without_a_channel_fail_the_send_not_the_worker(sqlite_fn: FunctionStack) -> None:
    """It refuses ctx.message.send when no channel is configured; the function sees MessageError."""
    sqlite_fn.configure(function_message_recipient_allowlist=("55",))
    code = ("def run(ctx):\n    try:\n        ctx.message.send(to='5511987654321', text='oi')\n"
            "    except Exception as exc:\n        return str(exc)\n")
    chrono = sqlite_fn.create_chrono(functionCode=code)
    sqlite_fn.run_due(chrono["id"])
    (run,) = sqlite_fn.stack.runs(chrono["id"])
    assert run.status == "success" and "no channel" in run.result
