"""Sandbox start-up cost: fork-server round trip, trivial run, fresh interpreter.

Prints the median and p99 of:

(a) a bare fork-server round trip, ``SandboxRunner.ping``: fork a child through every isolation
    layer, one request and answer, exit;
(b) a trivial function through ``SandboxRunner.run`` (fork, isolate, compile, run, result);
(c) a fresh ``python -c pass``, what a naive design would pay per run;

with the ratios between them. Usage: ``python bench/sandbox.py [iterations]`` (200 by default).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from chronoflow.sandbox import FunctionLimits, SandboxPolicy, SandboxRunner

TRIVIAL = "def run(ctx):\n    return 1\n"


def measure(action: Callable[[], object], iterations: int) -> list[float]:
    """Wall times of ``iterations`` calls of ``action``, in milliseconds (after 5 warm-ups)."""
    for _ in range(5):
        action()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


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
    print(f"{iterations} iterations; isolation layers: {', '.join(layers)}")
    print(f"{'':32}{'median ms':>10}{'p99 ms':>10}")
    for name, (median, p99) in rows.items():
        print(f"{name:32}{median:10.2f}{p99:10.2f}")
    a, b, c = (rows[k][0] for k in rows)
    print(f"run / round trip: {b / a:.2f}x   fresh interpreter / run: {c / b:.2f}x")


if __name__ == "__main__":
    main()
