"""Sandbox start-up cost: fork-server round trip, trivial run, fresh interpreter.

Prints the median and p99 of:

(a) a bare fork-server round trip, ``SandboxRunner.ping``: get a child forked through every
    isolation layer, one request and answer, exit; the child is the fork server's spare, forked
    and isolated while the previous call went on, once that spare is ready;
(b) a trivial function through ``SandboxRunner.run`` (get a child, compile, run, result);
(c) a fresh ``python -c pass``, what a naive design would pay per run;
(d) a trivial FUNCTION chrono run end to end in a worker (``execute_occurrence`` in-process, on a
    SQLite file: claim the occurrence, get a child, compile, run, record the run and its state); target:
    median at most 5 ms;
(e) the same with ``FUNCTION_SANDBOX_NETNS=0``: creating and tearing down a network namespace per
    child is the largest kernel cost of a child, ahead of the run when a spare was ready for it;
(f) (d) with the runs 50 ms apart (the pause not timed): a chrono firing on its own, whose spare
    child was forked and isolated while nothing else ran, rather than one of a back-to-back series;

with the ratios between them. Usage: ``python bench/sandbox.py [iterations]`` (200 by default).
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chronoflow.sandbox import FunctionLimits, SandboxPolicy, SandboxRunner

TRIVIAL = "def run(ctx):\n    return 1\n"


def measure(action: Callable[[], object], iterations: int, gap_s: float = 0.0) -> list[float]:
    """Wall times of ``iterations`` calls of ``action``, in milliseconds (after 5 warm-ups), each
    call ``gap_s`` after the previous one ended."""
    for _ in range(5):
        action()
    samples = []
    for _ in range(iterations):
        time.sleep(gap_s)
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def worker_runs(iterations: int, network_namespace: bool = True, gap_s: float = 0.0) -> list[float]:
    """(d)/(e): wall times of ``execute_occurrence`` for a trivial FUNCTION chrono, in a worker runtime."""
    from _stack import bench_stack
    from sqlalchemy import func, select

    from chronoflow.functions.runners import close_shared_runners
    from chronoflow.store.models import ChronoRun
    from chronoflow.worker import WorkerRuntime, execute_occurrence, install_runtime

    with bench_stack() as stack:
        chrono = stack.loop.run(stack.chronos.create({
            "name": "trivial", "cron": "0 0 1 1 *", "targetType": "FUNCTION", "functionCode": TRIVIAL,
        }))
        close_shared_runners()  # the API side's checker: not part of a worker
        settings = dataclasses.replace(stack.settings, function_sandbox_network_namespace=network_namespace)
        runtime = WorkerRuntime.create(settings, settings.redis_url, settings.database_url)
        install_runtime(runtime)
        occurrences = itertools.count()
        first = datetime(2000, 1, 1, tzinfo=UTC)

        def run_once() -> None:
            due = first + timedelta(seconds=next(occurrences))  # each call is a new occurrence to claim
            assert execute_occurrence(chrono.id, due.isoformat(), trigger="manual") is not None

        try:
            samples = measure(run_once, iterations, gap_s)
        finally:
            runtime.close()

        async def succeeded() -> int:
            async with stack.db.session() as session:
                query = select(func.count()).select_from(ChronoRun).where(ChronoRun.status == "success")
                return int(await session.scalar(query) or 0)

        assert stack.loop.run(succeeded()) == iterations + 5, "some trivial runs did not succeed"
    return samples


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    limits = FunctionLimits()
    rows: dict[str, tuple[float, float]] = {}
    with SandboxRunner(SandboxPolicy()) as runner:
        runner.start()
        rows["(a) fork-server round trip"] = summary(measure(runner.ping, iterations))

        def trivial_run() -> None:
            result = runner.run(TRIVIAL, extras={}, state={}, limits=limits)
            assert result.ok, result.error

        rows["(b) trivial function run"] = summary(measure(trivial_run, iterations))
        layers = runner.active_layers
    rows["(c) python -c pass"] = summary(
        measure(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), iterations)
    )
    rows["(d) worker run, end to end"] = summary(worker_runs(iterations))
    rows["(e) (d) without netns"] = summary(worker_runs(iterations, network_namespace=False))
    rows["(f) (d), runs 50 ms apart"] = summary(worker_runs(iterations, gap_s=0.05))
    print(f"{iterations} iterations; isolation layers: {', '.join(layers)}")
    print(f"{'':32}{'median ms':>10}{'p99 ms':>10}")
    for name, (median, p99) in rows.items():
        print(f"{name:32}{median:10.2f}{p99:10.2f}")
    a, b, c, d, e, _ = (rows[k][0] for k in rows)
    print(f"run / round trip: {b / a:.2f}x   fresh interpreter / run: {c / b:.2f}x")
    print(f"worker run / sandbox run: {d / b:.2f}x (claim and record: {d - b:.2f} ms)   "
          f"fresh interpreter / worker run: {c / d:.2f}x   target: worker run median <= 5 ms")
    print(f"the network namespace costs {d - e:.2f} ms a run (FUNCTION_SANDBOX_NETNS=0 drops it, and that layer)")


if __name__ == "__main__":
    main()
