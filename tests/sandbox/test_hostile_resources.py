"""Hostile code: memory and CPU bombs, flooding, oversize state and results, compile bombs.

Each must end as a clean error, a memory-limit failure or a timeout, with the fork server
still serving the next run.
"""

from __future__ import annotations

import pytest

from chronoflow.sandbox import CodeError, FunctionLimits, RunStatus

SHORT = FunctionLimits(timeout_ms=700, max_memory_mb=64)


def test_memory_bomb_list(run):
    """It denies a list of a billion items: memory limit."""
    result = run("def run(ctx):\n    return len([0] * (10 ** 9))\n", limits=SHORT)
    assert result.status is RunStatus.FAILED and "memory limit" in result.error


def test_memory_bomb_growing(run):
    """It denies memory growing in a loop: memory limit, even though it builds up slowly."""
    code = "def run(ctx):\n    x = []\n    while True:\n        x.append('a' * 1000000 + str(len(x)))\n"
    result = run(code, limits=FunctionLimits(timeout_ms=3000, max_memory_mb=64))
    assert result.status is RunStatus.FAILED and "memory limit" in result.error


def test_memory_bomb_swallowed(run):
    """It denies swallowing MemoryError to keep going: the run still ends (timeout or failure)."""
    code = (
        "def run(ctx):\n"
        "    while True:\n"
        "        try:\n"
        "            x = 'a' * (10 ** 10)\n"
        "        except BaseException:\n"
        "            pass\n"
    )
    result = run(code, limits=SHORT)
    assert result.status is RunStatus.TIMEOUT


def test_cpu_loop(run):
    """It denies an endless loop: timeout."""
    assert run("def run(ctx):\n    while True:\n        pass\n", limits=SHORT).status is RunStatus.TIMEOUT


def test_cpu_loop_at_module_level(run):
    """It denies a module-level while True: the kill applies before run() is reached."""
    assert run("while True:\n    pass\ndef run(ctx):\n    return 1\n", limits=SHORT).status is RunStatus.TIMEOUT


def test_cpu_loop_swallowing_base_exception(run):
    """It denies surviving the timeout by catching BaseException: the group is killed."""
    code = (
        "def run(ctx):\n"
        "    while True:\n"
        "        try:\n"
        "            while True:\n"
        "                pass\n"
        "        except BaseException:\n"
        "            pass\n"
    )
    assert run(code, limits=SHORT).status is RunStatus.TIMEOUT


def test_long_c_call(run):
    """It denies one C call that runs for minutes (catastrophic regex): killed at timeoutMs."""
    code = "import re\ndef run(ctx):\n    return bool(re.match('(a+)+$', 'a' * 64 + 'b'))\n"
    result = run(code, limits=SHORT)
    assert result.status is RunStatus.TIMEOUT
    assert result.duration_ms < 3000


def test_big_integer_power(run):
    """It denies a huge integer power: time or memory limit."""
    result = run("def run(ctx):\n    return 7 ** (10 ** 10) > 1\n", limits=SHORT)
    assert result.status in (RunStatus.TIMEOUT, RunStatus.FAILED)
    assert result.result is None


def test_deep_recursion(run):
    """It denies unbounded recursion: a RecursionError with a short user traceback."""
    result = run("def f(n):\n    return f(n + 1)\ndef run(ctx):\n    return f(0)\n")
    assert result.status is RunStatus.FAILED
    assert result.error.startswith("RecursionError")
    assert len(result.traceback) <= 8000


def test_sleep_past_timeout(run):
    """It denies sleeping past the timeout: the sleep is bounded and the run times out."""
    result = run("def run(ctx):\n    ctx.sleep(3600)\n    return 1\n", limits=SHORT)
    assert result.status is RunStatus.TIMEOUT
    assert result.duration_ms < 2000


def test_sleep_infinite(run):
    """It denies ctx.sleep(inf)."""
    result = run("def run(ctx):\n    ctx.sleep(float('inf'))\n", limits=SHORT)
    assert result.status is RunStatus.FAILED and "finite" in result.error


def test_log_flooding(run):
    """It denies log flooding: logs stop at maxLogBytes with one truncation marker."""
    code = "def run(ctx):\n    for i in range(20000):\n        ctx.log('x' * 100)\n    return 'done'\n"
    # A generous wall-clock limit: the point is the byte cap, not speed on a loaded machine.
    result = run(code, limits=FunctionLimits(max_log_bytes=10_000, timeout_ms=60_000))
    assert result.result == "done"
    assert sum(len(line) for line in result.logs) <= 10_000 + 40
    assert result.logs[-1] == "[log output truncated]"


def test_print_flooding(run):
    """It denies flooding through print: same cap, no output anywhere else."""
    code = "def run(ctx):\n    for i in range(5000):\n        print('y' * 1000)\n"
    result = run(code, limits=FunctionLimits(max_log_bytes=4096))
    assert result.ok
    assert result.logs[-1] == "[log output truncated]" and len(result.logs) <= 6


def test_single_huge_log_line(run):
    """It denies one 50 MB log line: cut in the child, capped on the trusted side."""
    result = run("def run(ctx):\n    ctx.log('z' * (50 * 1024 * 1024))\n", limits=FunctionLimits(max_log_bytes=2048))
    assert result.ok
    assert result.logs == ["z" * 2048] or result.logs == ["[log output truncated]"]


def test_oversize_state(run):
    """It denies a state over maxStateBytes: StateError, state not persisted."""
    result = run("def run(ctx):\n    ctx.state.set('blob', 'x' * 5000)\n", limits=FunctionLimits(max_state_bytes=1024))
    assert result.status is RunStatus.FAILED and result.error.startswith("StateError")
    assert result.state is None


def test_state_nan(run):
    """It denies NaN in state: strict JSON only."""
    result = run("def run(ctx):\n    ctx.state.set('x', float('nan'))\n")
    assert result.status is RunStatus.FAILED and "NaN" in result.error


def test_state_non_string_keys(run):
    """It denies non-string keys in a state value."""
    result = run("def run(ctx):\n    ctx.state.set('x', {1: 2})\n")
    assert result.status is RunStatus.FAILED and "string keys" in result.error


def test_state_custom_objects(run):
    """It denies storing objects that are not plain JSON (a dict subclass included)."""
    result = run("class D(dict):\n    pass\ndef run(ctx):\n    ctx.state.set('x', D(a=1))\n")
    assert result.status is RunStatus.FAILED and result.error.startswith("TypeError")


def test_oversize_result(run):
    """It denies a return value over maxResultBytes."""
    result = run("def run(ctx):\n    return 'r' * 100000\n", limits=FunctionLimits(max_result_bytes=1000))
    assert result.status is RunStatus.FAILED and "cap" in result.error


def test_non_json_result(run):
    """It denies returning a function or NaN."""
    assert run("def run(ctx):\n    return run\n").status is RunStatus.FAILED
    assert run("def run(ctx):\n    return float('inf')\n").status is RunStatus.FAILED


def test_compile_bomb_nesting(runner):
    """It denies a deeply nested expression: check() fails cleanly in its own child."""
    code = "def run(ctx):\n    return " + "-" * 200_000 + "1\n"
    with pytest.raises(CodeError):
        runner.check(code)


def test_compile_bomb_size(runner):
    """It denies code over the size cap before parsing."""
    with pytest.raises(CodeError, match="longer than"):
        runner.check("def run(ctx):\n    return 1\n" + "#" * 300_000)


def test_compile_bomb_in_run(run):
    """It denies a compile bomb through run() too: a clean failure."""
    result = run("def run(ctx):\n    return " + "(" * 100_000 + "1" + ")" * 100_000 + "\n", limits=SHORT)
    assert result.status is RunStatus.FAILED


def test_fork_server_survives(run):
    """It allows normal runs after all of the above: the worker and fork server are unharmed."""
    assert run("def run(ctx):\n    return 'alive'\n").result == "alive"
