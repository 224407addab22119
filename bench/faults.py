"""Faults injected into a running ChronoFlow, every occurrence accounted for.

Per-second HTTP chronos run on real scheduler and worker processes (an embedded Redis, a SQLite
file, an HTTP receiver on 127.0.0.1) while one fault is injected, then every second each chrono
owed is matched to its run row, its coalescing note or its ``missed`` row, and every receiver hit to
an executed run (see ``tests/occurrences.py``). Scenarios:

- ``redis-restart``: Redis SIGKILLed in the middle, down for 5 s, restarted empty on the same port;
- ``flushall``: ``FLUSHALL`` in the middle;
- ``worker-kill``: one of 2 workers SIGKILLed every ~5 s (and started again), 30 chronos;
- ``slow-receiver``: 50 chronos (misfire grace 5 s) whose receiver takes 2 s, one worker: the
  queue must stay bounded (one waiting job per chrono) and no run may start beyond the grace.

Lost, duplicated, early, stuck and miscounted should be 0. Workers that exit are started again, as a process
manager would. Each scenario takes about ``--seconds`` plus ~15 s of set-up and settling.

    python bench/faults.py [--seconds 30] [--scenario all|redis-restart|flushall|worker-kill]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from _stack import BenchStack, bench_stack
from sqlalchemy import select

from chronoflow.store.models import ChronoRun
from tests.occurrences import Tally, account

SETTLE_S = 4.0
"""Occurrences due in the last seconds of a run are still on their way: they are not counted."""
DRAIN_S = 45.0
"""After the faulty phase, how long the window's last occurrences may take to be run, and the runs
of killed workers to be reaped (the worker heartbeat lasts 15 s), before what is left counts as lost
or stuck."""
MAX_SECONDS = 600
"""Upper bound of ``--seconds``."""


class Processes:
    """Schedulers and workers of one scenario; workers that exit are started again."""

    def __init__(self, stack: BenchStack, schedulers: int, workers: int) -> None:
        self.stack = stack
        self.schedulers = [stack.spawn("scheduler") for _ in range(schedulers)]
        self.workers = [stack.spawn("worker") for _ in range(workers)]
        self.restarted = 0

    def keep_workers(self) -> None:
        for index, worker in enumerate(self.workers):
            if worker.poll() is not None:
                self.workers[index] = self.stack.spawn("worker")
                self.restarted += 1

    def exited_schedulers(self) -> int:
        return sum(1 for scheduler in self.schedulers if scheduler.poll() is not None)

    def stop(self) -> None:
        for process in self.schedulers + self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.schedulers + self.workers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


SCENARIOS = ("redis-restart", "flushall", "worker-kill", "slow-receiver")
SLOW_RECEIVER_S = 2.0
SLOW_GRACE_S = 5


def _create_chronos(stack: BenchStack, count: int, **fields: object) -> list[str]:
    ids = []
    for i in range(count):
        chrono = stack.loop.run(stack.chronos.create({
            "name": f"fault-{i}", "cron": "* * * * * *", "targetType": "HTTP",
            "url": f"{stack.receiver.url}/c/{i}", "method": "POST", **fields,
        }))
        ids.append(chrono.id)
    return ids


def _runs(stack: BenchStack, chrono_id: str) -> list[ChronoRun]:
    async def load() -> list[ChronoRun]:
        async with stack.db.session() as session:
            return list(await session.scalars(select(ChronoRun).where(ChronoRun.chrono_id == chrono_id)))
    return stack.loop.run(load())


def _tally(stack: BenchStack, ids: list[str], start: float, end: float) -> Tally:
    total = Tally()
    requests = stack.receiver.requests
    for i, chrono_id in enumerate(ids):
        hits = [r.arrived_at for r in requests if r.path == f"/c/{i}"]
        total.add(account(_runs(stack, chrono_id), hits, start, end))
    return total


def _wait(processes: Processes, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        processes.keep_workers()
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _drain(stack: BenchStack, processes: Processes, ids: list[str], start: float, end: float) -> tuple[Tally, float]:
    """Count the window once every occurrence in it is settled (none lost or running yet), waiting at
    most :data:`DRAIN_S`; returns the tally and the seconds waited."""
    began = time.monotonic()
    _wait(processes, SETTLE_S)
    tally = _tally(stack, ids, start, end)
    while (tally.lost or tally.stuck) and time.monotonic() - began < DRAIN_S:
        _wait(processes, 1.0)
        tally = _tally(stack, ids, start, end)
    return tally, time.monotonic() - began


def run_scenario(name: str, seconds: float) -> tuple[Tally, str]:
    """Run one scenario; returns its tally and a note on what happened."""
    chronos, workers = {"worker-kill": (30, 2), "slow-receiver": (50, 1)}.get(name, (10, 1))
    with bench_stack() as stack:
        if name == "slow-receiver":
            for i in range(chronos):
                stack.receiver.respond(f"/c/{i}", delay=SLOW_RECEIVER_S)
            ids = _create_chronos(stack, chronos, misfireGraceSeconds=SLOW_GRACE_S)
        else:
            ids = _create_chronos(stack, chronos)
        processes = Processes(stack, schedulers=2, workers=workers)
        note = ""
        try:
            _wait(processes, 3)
            start = float(int(time.time()) + 1)
            if name == "worker-kill":
                kills = 0
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    _wait(processes, random.uniform(4, 6))
                    victim = random.choice(processes.workers)
                    if victim.poll() is None:
                        os.killpg(victim.pid, signal.SIGKILL)
                        victim.wait()
                        kills += 1
                note = f"{kills} worker kills"
            elif name == "slow-receiver":
                queue, longest = f"rq:queue:{stack.settings.queue_name}", 0
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    longest = max(longest, stack.redis.llen(queue))
                    _wait(processes, 0.5)
                note = f"longest queue {longest} jobs ({chronos} chronos)"
            else:
                _wait(processes, seconds / 2)
                fault = time.time()
                if name == "flushall":
                    stack.redis.flushall()
                else:
                    server = stack.redis_server
                    assert server is not None and server.process is not None
                    server.process.kill()
                    server.process.wait()
                    (Path(server.data_dir) / "redis.rdb").unlink(missing_ok=True)
                    _wait(processes, 5)
                    server.start()
                back = time.time()
                first_hit = None
                while first_hit is None and time.time() - back < 60:
                    first_hit = min((r.arrived_at for r in stack.receiver.requests if r.arrived_at > back),
                                    default=None)
                    _wait(processes, 0.1)
                resumed = "never (60 s)" if first_hit is None else f"{first_hit - back:.1f} s"
                note = f"fault at +{fault - start:.0f} s; firing resumed {resumed} after Redis was back"
                _wait(processes, max(0.0, seconds / 2 - (time.time() - back)))
            end = time.time() - SETTLE_S
            tally, waited = _drain(stack, processes, ids, start, end)
            if name == "slow-receiver":
                late = max((run.started_at.timestamp() - run.scheduled_for.timestamp()
                            for chrono_id in ids for run in _runs(stack, chrono_id)
                            if run.status in ("success", "failed", "timeout") and run.started_at), default=0.0)
                note += f"; latest start {late:.1f} s after its due time (grace {SLOW_GRACE_S} s)"
            note += (f"; schedulers exited: {processes.exited_schedulers()}; workers restarted: {processes.restarted}"
                     f"; counted {waited:.1f} s after the faulty phase")
        finally:
            processes.stop()
        return tally, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0,
                        help=f"length of each scenario's faulty phase (at most {MAX_SECONDS})")
    parser.add_argument("--scenario", choices=("all", *SCENARIOS), default="all")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 10.0), MAX_SECONDS)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    header = ["scenario", *Tally.names()]
    rows = []
    for name in names:
        tally, note = run_scenario(name, seconds)
        rows.append([name, *(str(getattr(tally, field)) for field in Tally.names())])
        print(f"{name}: {note}", flush=True)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
    print("lost, duplicated, early, stuck and miscounted should all be 0")


if __name__ == "__main__":
    main()
