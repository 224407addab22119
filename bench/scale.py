"""100,000 chronos: Redis memory per active chrono, reconcile with nothing to do, rebuild from empty.

Seeds ``--count`` HTTP chronos straight into a SQLite file (bulk inserts, each with its
``nextRunAt``), with an embedded Redis, then prints each figure beside a peer measured in the same
run, medians over ``--rounds``:

- **bytes per active chrono**: Redis's ``used_memory`` grown by rebuilding every schedule job, over
  the count; peer: a bare rq-scheduler job (``Scheduler.enqueue_at`` of a no-op), per job, over a
  sample of ``--peer-sample`` jobs;
- **reconcile, nothing to do** (``chronoflow reconcile`` on a Redis that matches the database);
  peer: only reading what it must read, the active rows' schedule columns from the database and
  each job's data and score from Redis in the same batches;
- **rebuild after FLUSHALL** (what the active scheduler runs when Redis lost its data); peer: only
  writing as many hashes of the same size and their scheduled-set entries, pipelined.

Targets (issue: scale): at most 1,024 bytes per chrono; reconcile and rebuild of 100,000 chronos
within 10 s each. Exits non-zero only on errors.

    python bench/scale.py [--count 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _stack import BenchStack, bench_stack, median
from rq_scheduler import Scheduler
from sqlalchemy import insert, select

from chronoflow.scheduling.jobs import SCHEDULED_JOBS_KEY, schedule_job_id
from chronoflow.scheduling.reconciler import _COLUMNS, BATCH, reconcile
from chronoflow.store.models import Chrono

SEED_BATCH = 5000
CRON = "*/5 * * * *"


def seed(stack: BenchStack, count: int) -> None:
    """``count`` active HTTP chronos every five minutes, their next runs spread over the next hour."""
    now = datetime.now(UTC).replace(microsecond=0)
    first = now + timedelta(minutes=5 - now.minute % 5, seconds=-now.second)
    columns: dict[str, Any] = {
        "cron": CRON, "schedule_cron": CRON, "timezone": "America/Sao_Paulo", "target_type": "HTTP",
        "is_active": True, "is_recurring": True, "misfire_grace_seconds": 60, "overlap_policy": "skip",
        "url": "http://127.0.0.1:9/bench", "method": "POST", "created_at": now, "updated_at": now,
    }

    async def insert_all() -> None:
        async with stack.db.session() as session:
            for start in range(0, count, SEED_BATCH):
                rows = [{**columns, "id": str(uuid.uuid4()), "name": f"scale-{i}",
                         "next_run_at": first + timedelta(minutes=5 * (i % 12))}
                        for i in range(start, min(count, start + SEED_BATCH))]
                await session.execute(insert(Chrono), rows)

    stack.loop.run(insert_all())


def timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def used_memory(stack: BenchStack) -> int:
    return int(stack.redis.info("memory")["used_memory"])


def read_floor(stack: BenchStack) -> None:
    """What reconcile cannot avoid: the rows, and each job's data and score, batch by batch."""
    async def read() -> None:
        async with stack.db.session() as session:
            result = await session.stream(select(*_COLUMNS).where(Chrono.is_active.is_(True))
                                          .execution_options(yield_per=BATCH))
            async for rows in result.partitions(BATCH):
                with stack.redis.pipeline(transaction=False) as pipe:
                    for row in rows:
                        pipe.hget(f"rq:job:{schedule_job_id(row.id)}", "data")
                        pipe.zscore(SCHEDULED_JOBS_KEY, schedule_job_id(row.id))
                    pipe.execute()
    stack.loop.run(read())


def write_floor(stack: BenchStack, count: int, payload: bytes) -> None:
    """Writing ``count`` hashes like a schedule job and their scheduled-set entries, pipelined."""
    due = time.time() + 3600
    for start in range(0, count, BATCH):
        with stack.redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(count, start + BATCH)):
                job_id = f"chrono_floor-{i:032d}"
                pipe.hset(f"rq:job:{job_id}", mapping={"data": payload, "status": "scheduled", "origin": "default"})
                pipe.zadd(SCHEDULED_JOBS_KEY, {job_id: due})
            pipe.execute()


def peer_bytes_per_job(stack: BenchStack, sample: int) -> float:
    stack.redis.flushall()
    before = used_memory(stack)
    scheduler = Scheduler(connection=stack.redis)
    at = datetime.now(UTC) + timedelta(days=1)
    for _ in range(sample):
        scheduler.enqueue_at(at, print)
    return (used_memory(stack) - before) / sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer-sample", type=int, default=10_000)
    args = parser.parse_args()
    with bench_stack() as stack:
        print(f"seeding {args.count:,} chronos into SQLite ...", flush=True)
        seed(stack, args.count)

        def run_reconcile() -> Any:
            return stack.loop.run(reconcile(stack.db, stack.jobs))

        rebuild_s, rebuild_floor_s, nothing_s, nothing_floor_s, per_chrono = [], [], [], [], []
        for _ in range(args.rounds):
            stack.redis.flushall()
            before = used_memory(stack)
            report: list[Any] = []
            rebuild_s.append(timed(lambda: report.append(run_reconcile())))
            if len(report[0].added) != args.count:
                raise RuntimeError(f"the rebuild added {len(report[0].added)} jobs, not {args.count}")
            per_chrono.append((used_memory(stack) - before) / args.count)
            payload = stack.redis.hget(f"rq:job:{schedule_job_id(report[0].added[0])}", "data") or b""
            nothing_s.append(timed(lambda: report.append(run_reconcile())))
            if report[1].added or report[1].replaced or report[1].removed:
                raise RuntimeError(f"a reconcile after the rebuild had work to do: {report[1]}")
            nothing_floor_s.append(timed(lambda: read_floor(stack)))
            stack.redis.flushall()
            rebuild_floor_s.append(timed(lambda: write_floor(stack, args.count, payload)))
        peer_bytes = peer_bytes_per_job(stack, args.peer_sample)

    ours_bytes = median(per_chrono)
    rows = [
        ("Redis bytes per active chrono", f"{ours_bytes:,.0f}", f"{peer_bytes:,.0f} (bare rq-scheduler job)",
         ours_bytes / peer_bytes, "≤ 1,024"),
        ("reconcile, nothing to do (s)", f"{median(nothing_s):.2f}", f"{median(nothing_floor_s):.2f} (reads only)",
         median(nothing_s) / median(nothing_floor_s), "≤ 10 s"),
        ("rebuild after FLUSHALL (s)", f"{median(rebuild_s):.2f}", f"{median(rebuild_floor_s):.2f} (writes only)",
         median(rebuild_s) / median(rebuild_floor_s), "≤ 10 s"),
    ]
    print(f"\n{args.count:,} active chronos, SQLite, median of {args.rounds} rounds")
    print(f"{'figure':<32}{'ours':>10}  {'peer':<34}{'ratio':>7}  target")
    for name, ours, peer, ratio, target in rows:
        print(f"{name:<32}{ours:>10}  {peer:<34}{ratio:>7.2f}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
