"""HTTP runs per second of one worker over a burst, beside bare RQ no-op jobs on the same Redis.

Two figures for ChronoFlow, each round: a burst handed over to the queue before the worker starts
(drained), and one the scheduler hands over while the worker runs (live). Every rate comes from the
runs' or jobs' own start and end stamps (first start to last end), so process start-up is excluded.
Target: ChronoFlow's rate is at least bare RQ's in both (ratio 1.0).

    python bench/throughput.py [--count 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from _stack import BenchStack, bench_stack, burst_rate, median, runs_span
from rq import Queue
from rq.job import Job



def create_burst(stack: BenchStack, count: int) -> datetime:
    """``count`` new HTTP chronos due at the same instant, a few seconds ahead; that instant."""
    at = (datetime.now(UTC) + timedelta(seconds=5 + count / 200)).replace(microsecond=0)
    for i in range(count):
        stack.loop.run(stack.chronos.create({
            "name": f"burst-{i}", "cron": at.isoformat(), "targetType": "HTTP",
            "url": f"{stack.receiver.url}/t/{i}", "method": "POST", "payload": {"i": i},
        }))
    return at


def drained_rate(stack: BenchStack, count: int) -> float:
    """Runs/s of one burst worker over ``count`` occurrences already in the queue."""
    return burst_rate(stack, create_burst(stack, count), count, 600)


def live_rate(stack: BenchStack, count: int, timeout_s: float = 600) -> float:
    """Runs/s of one worker over ``count`` occurrences a scheduler process hands over as they fall due."""
    at = create_burst(stack, count)
    processes = [stack.spawn("scheduler"), stack.spawn("worker")]
    try:
        deadline = time.monotonic() + timeout_s
        while (done := runs_span(stack, at))[0] < count:
            assert time.monotonic() < deadline, f"only {done[0]} of {count} runs succeeded"
            time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
    return count / done[1]


def bare_rq_rate(stack: BenchStack, count: int) -> float:
    """No-op jobs/s of RQ's SimpleWorker on the same Redis."""
    queue = Queue("bare", connection=stack.redis)
    jobs = [queue.enqueue("os.getpid", result_ttl=600) for _ in range(count)]
    process = subprocess.Popen([sys.executable, "-c", (
        "import sys; from redis import Redis; from rq import Queue, SimpleWorker;"
        "r = Redis.from_url(sys.argv[1]); SimpleWorker([Queue('bare', connection=r)], connection=r)"
        ".work(burst=True, logging_level='WARNING')"), stack.settings.redis_url], env=stack.env)
    process.wait(600)
    fetched = Job.fetch_many([j.id for j in jobs], connection=stack.redis)
    starts = [j.started_at for j in fetched if j is not None and j.started_at]
    ends = [j.ended_at for j in fetched if j is not None and j.ended_at]
    assert len(ends) == count, f"only {len(ends)} of {count} bare jobs finished"
    queue.empty()
    return count / (max(ends) - min(starts)).total_seconds()


def _figure(kind: str, rate: float, ratio: float) -> str:
    return f"{kind} {rate:.0f} runs/s (ratio {ratio:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="the embedded default, or a throwaway PostgreSQL 15 cluster")
    args = parser.parse_args()
    bare: list[float] = []
    ours: dict[str, list[float]] = {"drained": [], "live": []}
    ratios: dict[str, list[float]] = {"drained": [], "live": []}
    with bench_stack(args.database) as stack:
        for round_no in range(args.rounds):
            b = bare_rq_rate(stack, args.count)
            rates = {"drained": drained_rate(stack, args.count), "live": live_rate(stack, args.count)}
            bare.append(b)
            for kind, rate in rates.items():
                ours[kind].append(rate)
                ratios[kind].append(rate / b)
            shown = ", ".join(_figure(kind, ours[kind][-1], ratios[kind][-1]) for kind in ours)
            print(f"round {round_no + 1}: bare RQ {b:.0f} jobs/s; chronoflow {shown}")
            time.sleep(0.5)
    shown = ", ".join(_figure(kind, median(ours[kind]), median(ratios[kind])) for kind in ours)
    print(f"median over {args.rounds} rounds of {args.count}: bare RQ SimpleWorker no-op "
          f"{median(bare):.0f}/s; chronoflow HTTP runs {shown} (target >= 1.0 in both)")


if __name__ == "__main__":
    main()
