"""HTTP runs per second of one worker draining a burst, beside bare RQ no-op jobs on the same Redis.

Both rates come from the jobs' own start and end stamps (first start to last end), so process
start-up is excluded from both. Target: ChronoFlow's rate is at least bare RQ's (ratio 1.0).

    python bench/throughput.py [--count 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from _stack import BenchStack, bench_stack, burst_rate, median
from rq import Queue
from rq.job import Job



def chronoflow_rate(stack: BenchStack, count: int) -> float:
    """Runs/s of one worker over a burst of ``count`` HTTP chronos due at the same instant."""
    at = (datetime.now(UTC) + timedelta(seconds=5 + count / 200)).replace(microsecond=0)
    for i in range(count):
        stack.loop.run(stack.chronos.create({
            "name": f"burst-{i}", "cron": at.isoformat(), "targetType": "HTTP",
            "url": f"{stack.receiver.url}/t/{i}", "method": "POST", "payload": {"i": i},
        }))
    return burst_rate(stack, at, count, 600)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="the embedded default, or a throwaway PostgreSQL 15 cluster")
    args = parser.parse_args()
    ours, bare, ratios = [], [], []
    with bench_stack(args.database) as stack:
        for round_no in range(args.rounds):
            b = bare_rq_rate(stack, args.count)
            o = chronoflow_rate(stack, args.count)
            bare.append(b)
            ours.append(o)
            ratios.append(o / b)
            print(f"round {round_no + 1}: chronoflow {o:.0f} runs/s, bare RQ {b:.0f} jobs/s, ratio {o / b:.2f}")
            time.sleep(0.5)
    print(f"median over {args.rounds} rounds of {args.count}: chronoflow HTTP runs {median(ours):.0f}/s, "
          f"bare RQ SimpleWorker no-op {median(bare):.0f}/s, ratio {median(ratios):.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
