"""What a well-behaved function can do: the SDK against the real runner and outside world."""

from __future__ import annotations

import pytest

from chronoflow.sandbox import CodeError, FunctionLimits, RunStatus, SandboxRunner


def test_return_value(run):
    """It allows returning a JSON value, stored as the run's result."""
    result = run("def run(ctx):\n    return {'sum': 1 + 2, 'items': [1.5, None, True, 'é']}\n")
    assert result.status is RunStatus.SUCCESS
    assert result.result == {"sum": 3, "items": [1.5, None, True, "é"]}
    assert result.error is None and result.traceback is None
    assert result.duration_ms >= 0


def test_logs_and_print(run):
    """It allows ctx.log and print, both recorded as log lines."""
    result = run("def run(ctx):\n    ctx.log('sent', 3)\n    print('a', 'b', sep='-')\n    return None\n")
    assert result.ok
    assert result.logs == ["sent 3", "a-b"]


def test_extras_and_env(run):
    """It allows reading the chrono's extras and the operator's allowed variables."""
    code = "def run(ctx):\n    return [ctx.extras['n'] * 2, ctx.env.get('GREETING'), sorted(ctx.env)]\n"
    result = run(code, extras={"n": 21})
    assert result.result == [42, "olá", ["GREETING"]]


def test_state_round_trip(run):
    """It allows reading and writing ctx.state, returned for persistence after success."""
    code = (
        "def run(ctx):\n"
        "    count = ctx.state.get('count', 0) + 1\n"
        "    ctx.state.set('count', count)\n"
        "    ctx.state.delete('old')\n"
        "    return count\n"
    )
    first = run(code, state={"old": True})
    assert first.result == 1 and first.state == {"count": 1}
    second = run(code, state=first.state)
    assert second.result == 2 and second.state == {"count": 2}


def test_state_not_returned_on_failure(run):
    """It denies persisting state changes of a run that fails."""
    result = run("def run(ctx):\n    ctx.state.set('x', 1)\n    raise ValueError('boom')\n", state={"x": 0})
    assert result.status is RunStatus.FAILED
    assert result.state is None
    assert result.error == "ValueError: boom"


def test_http_get_json(run, base_url, http_server):
    """It allows GET to an allowlisted host, with status, headers and json()."""
    code = (
        "def run(ctx):\n"
        f"    r = ctx.http.get('{base_url}/json')\n"
        "    return [r.status_code, r.headers['content-type'], r.json()['users'][0]['name'], r.ok]\n"
    )
    result = run(code)
    assert result.result == [200, "application/json", "Ana", True], result.error
    assert result.http_count == 1
    assert http_server.seen[-1]["host"].startswith("localhost:")


def test_http_post_json_params_headers(run, base_url):
    """It allows POST with a JSON body, query params and custom headers."""
    code = (
        "def run(ctx):\n"
        f"    r = ctx.http.post('{base_url}/echo', json={{'a': 1}}, params={{'q': 'x y'}},\n"
        "                      headers={'X-Token': 't0k'}, timeout=5)\n"
        "    return r.json()\n"
    )
    echo = run(code).result
    assert echo["method"] == "POST"
    assert echo["body"] == '{"a": 1}'
    assert echo["query"] == {"q": "x y"}
    assert echo["content_type"] == "application/json"
    assert echo["x_token"] == "t0k"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_http_other_methods(run, base_url, method):
    """It allows PUT, PATCH and DELETE with a form body."""
    code = f"def run(ctx):\n    return ctx.http.{method}('{base_url}/echo', data={{'k': 'v'}}).json()\n"
    echo = run(code).result
    assert echo["method"] == method.upper()
    assert echo["body"] == "k=v"


def test_http_allowed_redirect(run, base_url):
    """It allows a redirect that stays on an allowed host, checking each hop."""
    code = f"def run(ctx):\n    r = ctx.http.get('{base_url}/redirect?to=/json')\n    return [r.status_code, r.url]\n"
    result = run(code)
    assert result.result == [200, f"{base_url}/json"]
    assert result.http_count == 2


def test_messages_through_callback(run, sent):
    """It allows messages to allowlisted numbers, sent by the trusted callback as digits."""
    code = (
        "def run(ctx):\n"
        "    a = ctx.message.send(to='+55 (11) 99999-0001', text='Olá Ana')\n"
        "    b = ctx.message.send(to=5511999990002, text='Oi')\n"
        "    return [a, b]\n"
    )
    result = run(code, send_message=sent)
    assert result.result == ["msg-1", "msg-2"]
    assert sent.calls == [("5511999990001", "Olá Ana"), ("5511999990002", "Oi")]
    assert result.message_count == 2
    assert result.messages == [{"to": "5511999990001", "id": "msg-1"}, {"to": "5511999990002", "id": "msg-2"}]


def test_message_callback_failure_is_clean(run):
    """It denies leaking provider errors: a failing callback becomes a clean MessageError."""

    def broken(to: str, text: str) -> str:
        raise RuntimeError("https://provider.example/api?apikey=SECRET refused")

    code = "def run(ctx):\n    ctx.message.send(to='5511999990001', text='x')\n"
    result = run(code, send_message=broken)
    assert result.status is RunStatus.FAILED
    assert result.error == "MessageError: the message could not be sent"
    assert "SECRET" not in (result.traceback or "")
    assert result.messages == [{"to": "5511999990001", "error": "send failed"}]


def test_allowed_imports(run):
    """It allows the wrapped json, math, re, datetime, random, decimal modules."""
    code = (
        "import json\nimport math\nimport re\nimport random\n"
        "from datetime import datetime, timedelta\nfrom decimal import Decimal\n"
        "def run(ctx):\n"
        "    d = datetime(2024, 1, 1) + timedelta(days=1)\n"
        "    return [json.loads(json.dumps({'a': 1})), math.sqrt(16), re.findall(r'\\d', 'a1b2'),\n"
        "            d.isoformat(), str(Decimal('1.10') + Decimal('2')), 1 <= random.randint(1, 6) <= 6]\n"
    )
    result = run(code)
    assert result.result == [{"a": 1}, 4.0, ["1", "2"], "2024-01-02T00:00:00", "3.10", True], result.error


def test_user_classes_and_generators(run):
    """It allows classes with attributes, generators, comprehensions and unpacking."""
    code = (
        "class Counter:\n"
        "    def __init__(self):\n"
        "        self.n = 0\n"
        "def gen(n):\n"
        "    for i in range(n):\n"
        "        yield i\n"
        "def run(ctx):\n"
        "    c = Counter()\n"
        "    for a, b in [(1, 2), (3, 4)]:\n"
        "        c.n = c.n + a * b\n"
        "    return [c.n, sum(gen(4)), {k: v for k, v in zip('ab', [1, 2])}]\n"
    )
    assert run(code).result == [14, 6, {"a": 1, "b": 2}]


def test_now_and_sleep(run):
    """It allows ctx.now() (aware UTC) and a short ctx.sleep."""
    code = "def run(ctx):\n    ctx.sleep(0.05)\n    return [ctx.now().tzinfo is not None, ctx.now().year > 2000]\n"
    assert run(code).result == [True, True]


def test_timeout_status(run):
    """It denies running past timeoutMs: the run ends with status timeout."""
    result = run("def run(ctx):\n    while True:\n        pass\n", limits=FunctionLimits(timeout_ms=300))
    assert result.status is RunStatus.TIMEOUT
    assert result.error == "timed out after 300 ms"
    assert 300 <= result.duration_ms < 2000


def test_memory_limit_status(run):
    """It denies allocating past maxMemoryMb: the run fails with "memory limit"."""
    result = run("def run(ctx):\n    x = 'a' * (512 * 1024 * 1024)\n", limits=FunctionLimits(max_memory_mb=64))
    assert result.status is RunStatus.FAILED
    assert "memory limit" in result.error


def test_traceback_has_user_frames_only(run):
    """It reports the user's frames under <function>, with no host path."""
    code = "def helper(x):\n    return 10 / x\n\ndef run(ctx):\n    return helper(0)\n"
    result = run(code)
    assert result.error == "ZeroDivisionError: division by zero"
    assert result.traceback.splitlines() == [
        "Traceback (most recent call last):",
        '  File "<function>", line 5, in run',
        "    return helper(0)",
        '  File "<function>", line 2, in helper',
        "    return 10 / x",
        "ZeroDivisionError: division by zero",
    ]
    assert "/" not in result.traceback.replace("10 / x", "")


def test_check_accepts_valid_code(runner: SandboxRunner):
    """It allows valid code through check()."""
    runner.check("def run(ctx):\n    return 1\n")


@pytest.mark.parametrize(
    ("code", "line", "reason"),
    [
        ("def run(ctx):\n    return (\n", 2, "SyntaxError"),
        ("x = 1\n", 0, "def run(ctx)"),
        ("def run():\n    pass\n", 1, "exactly one argument"),
        ("def run(ctx):\n    pass\n\nx = ctx.__dict__\n", 4, "__dict__"),
    ],
    ids=["syntax", "no-run", "no-arg", "dunder"],
)
def test_check_reports_line_and_reason(runner: SandboxRunner, code, line, reason):
    """It denies invalid code with a CodeError naming the line and the reason."""
    with pytest.raises(CodeError) as info:
        runner.check(code)
    assert info.value.line == line
    assert reason in info.value.reason
    assert str(info.value).startswith(f"line {line}: ") if line else True


def test_compile_error_in_run_is_failed(run):
    """It denies running code that does not compile, as a failed run naming the line."""
    result = run("def run(ctx):\n    return ctx.__class__\n")
    assert result.status is RunStatus.FAILED
    assert result.error.startswith("line 2: ")


def test_concurrent_runs(runner: SandboxRunner):
    """It allows several threads to run functions at once through one runner."""
    from concurrent.futures import ThreadPoolExecutor

    code = "def run(ctx):\n    ctx.sleep(0.1)\n    return ctx.extras['i']\n"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: runner.run(code, extras={"i": i}, state={}), range(16)))
    assert [r.result for r in results] == list(range(16))


def test_isolation_layers_reported(runner: SandboxRunner, run):
    """It reports which isolation layers the children run under."""
    run("def run(ctx):\n    return 1\n")
    assert {"process-group", "rlimits"} <= set(runner.active_layers)


def test_random_differs_between_runs(run):
    """It allows random numbers that differ from one child to the next (reseeded after fork)."""
    code = "import random\ndef run(ctx):\n    return random.random()\n"
    assert len({run(code).result for _ in range(3)}) == 3


def test_ping_reports_layers(runner: SandboxRunner):
    """It allows a bare round trip through the fork server, reporting the active layers."""
    assert "rlimits" in runner.ping()


def test_dates_time_zones_and_parsing(run):
    """It allows ZoneInfo, strptime and strftime (whose C code imports helpers lazily)."""
    code = (
        "from zoneinfo import ZoneInfo\nfrom datetime import datetime\n"
        "def run(ctx):\n"
        "    d = datetime(2024, 1, 2, 8, tzinfo=ZoneInfo('America/Sao_Paulo'))\n"
        "    return [d.strftime('%d/%m/%Y %H:%M %Z'), datetime.strptime('2024-03-04', '%Y-%m-%d').month]\n"
    )
    result = run(code)
    assert result.result == ["02/01/2024 08:00 -03", 3], result.error
