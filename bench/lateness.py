"""Fire lateness of 1,000 HTTP chronos due at distinct times over one minute, with one worker.

Lateness is the receiver's arrival time minus the occurrence's scheduled time. Targets: never early
(no negative value); p99 at most 20 ms over a minute; every one within 1 s when all are due at the
same instant (``--span 0``). Runs a real scheduler and worker process against an
embedded Redis, a SQLite file and an HTTP receiver on 127.0.0.1.

It also prints the CPU seconds each process spent from just before the first due time to the last
arrival, beside the CPU the machine had in that time: when they are close, the cores, not waiting,
set the lateness.

    python bench/lateness.py [--count 1000] [--span 60] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

from _stack import bench_stack, median, percentile


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has spent so far (Linux's ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--span", type=float, default=60.0, help="seconds the due times spread over")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (--span 0 --workers 2: "
                        "1,000 chronos due the same instant)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="the embedded default, or a throwaway PostgreSQL 15 cluster")
    args = parser.parse_args()
    with bench_stack(args.database) as stack:
        start = datetime.now(UTC) + timedelta(seconds=10 + args.count / 200)
        due: dict[str, float] = {}
        for i in range(args.count):
            at = start + timedelta(seconds=args.span * i / args.count)
            at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # millisecond ISO strings
            stack.loop.run(stack.chronos.create({
                "name": f"late-{i}", "cron": at.isoformat(timespec="milliseconds"), "targetType": "HTTP",
                "url": f"{stack.receiver.url}/c/{i}", "method": "POST",
            }))
            due[f"/c/{i}"] = at.timestamp()
        assert start.timestamp() > time.time(), "creating the chronos took longer than the head start"
        processes = [stack.spawn("scheduler")] + [stack.spawn("worker") for _ in range(args.workers)]
        assert stack.redis_server is not None and stack.redis_server.process is not None
        workers = {f"worker {i + 1}": p.pid for i, p in enumerate(processes[1:])}
        pids = {"scheduler": processes[0].pid, **workers, "Redis": stack.redis_server.process.pid,
                "this process (the receiver)": os.getpid()}
        try:
            time.sleep(max(0.0, start.timestamp() - 0.2 - time.time()))
            began, cpu_before = time.monotonic(), {name: cpu_seconds(pid) for name, pid in pids.items()}
            timeout = args.span + start.timestamp() - time.time() + 60
            requests = stack.receiver.wait_for(args.count, timeout=timeout)
            wall = time.monotonic() - began
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        finally:
            for process in processes:
                process.terminate()
                process.wait(15)
        lateness_ms = [(r.arrived_at - due[r.path]) * 1000 for r in requests]
        early = sum(1 for value in lateness_ms if value < 0)
        print(f"chronos: {args.count} over {args.span:g} s, {args.workers} worker(s), one active scheduler")
        print(f"lateness p50 {median(lateness_ms):.1f} ms, p99 {percentile(lateness_ms, 99):.1f} ms, "
              f"max {max(lateness_ms):.1f} ms, min {min(lateness_ms):.1f} ms")
        print(f"early arrivals: {early}  (target: 0)")
        cores = len(os.sched_getaffinity(0))
        print(f"CPU seconds from 0.2 s before the first due time to the last arrival ({wall:.2f} s, "
              f"{cores} cores: {wall * cores:.2f} CPU s at most): "
              + ", ".join(f"{name} {seconds:.2f}" for name, seconds in cpu.items())
              + f"; all {sum(cpu.values()):.2f}")
        if args.span > 0:
            met = percentile(lateness_ms, 99) <= 20
            print(f"target p99 <= 20 ms, none early: {'met' if met and early == 0 else 'NOT met'}")
        else:
            met = max(lateness_ms) <= 1000
            print(f"target all within 1 s, none early: {'met' if met and early == 0 else 'NOT met'}")


if __name__ == "__main__":
    main()
