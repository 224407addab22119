"""One worker holding several runs at once: throughput against a slow receiver, lateness beside slow chronos.

1. Runs/s of one worker draining a burst of HTTP chronos whose receiver takes 200 ms per request,
   with ``WORKER_CONCURRENCY`` as given, beside the same with ``WORKER_CONCURRENCY=1`` (one at a
   time, what a worker did before), in the same run. Target: at least 50 runs/s.
2. Fire lateness (receiver arrival minus due time) of fast chronos due at distinct times while a
   few every-second chronos call a receiver that takes 2 s, beside the same fast chronos alone, in
   the same run, with one scheduler and one worker. Target: p99 at most 50 ms.

Medians over the rounds; exits non-zero only on errors, not on targets.

    python bench/concurrency.py [--concurrency 16] [--count 400] [--rounds 3] [--fast 300] [--span 30]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from _stack import BenchStack, bench_stack, burst_rate, median, percentile


SLOW_S = 0.2
"""What the receiver of the throughput figure takes per request."""

STALL_S = 2.0
"""What the slow receiver of the lateness figure takes per request."""


def slow_receiver_rate(stack: BenchStack, count: int, concurrency: int) -> float:
    """Runs/s of one worker with ``concurrency`` slots over ``count`` chronos due at once, receiver at 200 ms."""
    at = (datetime.now(UTC) + timedelta(seconds=5 + count / 200)).replace(microsecond=0)
    for i in range(count):
        stack.loop.run(stack.chronos.create({
            "name": f"slow-{concurrency}-{i}", "cron": at.isoformat(), "targetType": "HTTP",
            "url": f"{stack.receiver.url}/slow", "method": "POST",
        }))
    return burst_rate(stack, at, count, 900, env={"WORKER_CONCURRENCY": str(concurrency)})


def fast_lateness(stack: BenchStack, count: int, span_s: float, concurrency: int, slow_chronos: int) -> list[float]:
    """Lateness (ms) of ``count`` fast chronos over ``span_s`` s, beside ``slow_chronos`` every-second slow ones."""
    tag = f"{slow_chronos}-{time.monotonic_ns()}"
    start = datetime.now(UTC) + timedelta(seconds=8 + count / 200)
    due: dict[str, float] = {}
    for i in range(count):
        at = start + timedelta(seconds=span_s * i / count)
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        stack.loop.run(stack.chronos.create({
            "name": f"fast-{tag}-{i}", "cron": at.isoformat(timespec="milliseconds"), "targetType": "HTTP",
            "url": f"{stack.receiver.url}/fast/{tag}/{i}", "method": "POST",
        }))
        due[f"/fast/{tag}/{i}"] = at.timestamp()
    slow_ids = [stack.loop.run(stack.chronos.create({
        "name": f"stall-{tag}-{i}", "cron": "* * * * * *", "targetType": "HTTP",
        "url": f"{stack.receiver.url}/stall", "method": "POST",
    })).id for i in range(slow_chronos)]
    assert start.timestamp() > time.time(), "creating the chronos took longer than the head start"
    processes = [stack.spawn("scheduler"), stack.spawn("worker", env={"WORKER_CONCURRENCY": str(concurrency)})]
    try:
        deadline = start.timestamp() + span_s + 60
        requests = []
        while time.time() < deadline:  # bounded by the deadline
            requests = [r for r in stack.receiver.requests if r.path in due]
            if len(requests) >= count:
                break
            time.sleep(0.2)
        assert len(requests) >= count, f"only {len(requests)} of {count} fast chronos arrived"
    finally:
        for chrono_id in slow_ids:
            stack.loop.run(stack.chronos.delete(chrono_id))
        for process in processes:
            process.terminate()
            process.wait(30)
    return [(r.arrived_at - due[r.path]) * 1000 for r in requests]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="WORKER_CONCURRENCY of the measured worker")
    parser.add_argument("--count", type=int, default=400, help="chronos per throughput round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fast", type=int, default=300, help="fast chronos in the lateness figure")
    parser.add_argument("--span", type=float, default=30.0, help="seconds their due times spread over")
    parser.add_argument("--slow", type=int, default=3, help="every-second chronos calling the 2 s receiver")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with bench_stack(args.database) as stack:
        stack.receiver.respond("/slow", delay=SLOW_S)
        stack.receiver.respond("/stall", delay=STALL_S)
        many, one = [], []
        serial_count = max(10, args.count // 16)  # one at a time takes 200 ms a run: fewer runs, same rate
        for round_no in range(args.rounds):
            one.append(slow_receiver_rate(stack, serial_count, 1))
            many.append(slow_receiver_rate(stack, args.count, args.concurrency))
            print(f"round {round_no + 1}: receiver at 200 ms: WORKER_CONCURRENCY={args.concurrency} "
                  f"{many[-1]:.1f} runs/s, WORKER_CONCURRENCY=1 {one[-1]:.1f} runs/s")
        print(f"median over {args.rounds} rounds: one worker, receiver at 200 ms: "
              f"{median(many):.1f} runs/s with WORKER_CONCURRENCY={args.concurrency}, {median(one):.1f} runs/s "
              f"with WORKER_CONCURRENCY=1, ratio {median(many) / median(one):.1f} (target >= 50 runs/s)")
        alone = fast_lateness(stack, args.fast, args.span, args.concurrency, 0)
        beside = fast_lateness(stack, args.fast, args.span, args.concurrency, args.slow)
        print(f"fast chronos: {args.fast} over {args.span:g} s, one worker (WORKER_CONCURRENCY={args.concurrency})")
        print(f"  beside {args.slow} every-second chronos whose receiver takes {STALL_S:g} s: "
              f"p50 {median(beside):.1f} ms, p99 {percentile(beside, 99):.1f} ms, max {max(beside):.1f} ms "
              f"(target p99 <= 50 ms)")
        print(f"  alone, same run:  p50 {median(alone):.1f} ms, p99 {percentile(alone, 99):.1f} ms, "
              f"max {max(alone):.1f} ms")
        early = sum(1 for value in alone + beside if value < 0)
        print(f"early arrivals: {early} (target 0)")


if __name__ == "__main__":
    main()
