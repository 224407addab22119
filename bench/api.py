"""Requests/s of one ``chronoflow api`` process on SQLite, beside a bare Litestar hello on the same server.

Both apps are served by ``chronoflow.cli.serve_asgi`` (the same uvicorn settings) and loaded by
Debian's ``wrk`` (32 connections, 2 threads) over loopback, round after round, ours and the peer
alternating so both see the same machine. Figures (medians over ``--rounds``):

- ``POST /chronos``: HTTP chronos with distinct names (a wrk Lua script numbers them);
- ``GET /chronos?take=50`` with ``--chronos`` chronos stored (10,000 by default);
- ``GET /health`` with a scheduler and a worker running (so it answers 200).

A scheduler and a worker run beside the API: their chronos fire once a year, so they stay idle.
Exits non-zero only when something fails (a refused request, a process that does not start), never
on a target.

    .venv/bin/python bench/api.py [--rounds 3] [--seconds 3] [--chronos 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
from litestar import Litestar, get
from redis import Redis

from chronoflow.chronos.service import ChronoService, schedule_spec
from chronoflow.config import Settings
from chronoflow.devtools.embedded_redis import EmbeddedRedis, free_port
from chronoflow.scheduling.jobs import JobStore, ScheduleSpec
from chronoflow.store.engine import Database
from chronoflow.store.migrations import upgrade
from chronoflow.store.models import Chrono

TOKEN = "bench-token-0123456789abcdef"
CONNECTIONS = 32
THREADS = 2
YEARLY = "0 0 1 1 *"
"""Cron of every chrono the benchmark makes: nothing fires while it measures."""
START_TIMEOUT_S = 60.0
SEED_BATCH = 1000

POST_SCRIPT = """
local n = 0
local tag = "r"
local tail = '","cron":"__CRON__","targetType":"HTTP","url":"http://127.0.0.1:9/bench","method":"POST"}'
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer __TOKEN__"}
function init(args) tag = args[1] or tag end
function setup(thread) thread:set("tid", tostring(math.random(1, 1000000000))) end
function request()
  n = n + 1
  return wrk.format("POST", "/chronos", headers, '{"name":"bench-' .. tag .. "-" .. tid .. "-" .. n .. tail)
end
""".replace("__CRON__", YEARLY).replace("__TOKEN__", TOKEN)
"""wrk script: each request creates a chrono named ``bench-<round>-<thread>-<n>`` (distinct names)."""

@get("/", sync_to_thread=False)
def hello() -> dict[str, str]:
    """The peer's one route: a small JSON document."""
    return {"hello": "world"}


@dataclass
class Round:
    rate: float
    errors: int


def run_wrk(url: str, seconds: float, script: Path | None = None, args: tuple[str, ...] = (),
            headers: tuple[str, ...] = ()) -> Round:
    """One wrk round; ``errors`` counts non-2xx/3xx answers and socket errors."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if args:
        command += ["--", *args]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return Round(float(rate.group(1)), errors)


def wait_for(url: str, ok: tuple[int, ...], timeout_s: float) -> int:
    """Poll ``url`` until it answers one of ``ok`` (returns the last status; 0 if it never answered)."""
    deadline = time.monotonic() + timeout_s
    status = 0
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url, timeout=2).status_code
            if status in ok:
                return status
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return status


async def seed(database_url: str, redis_url: str, count: int) -> None:
    """``count`` chronos: one created by the service, the rest cloned from it in batches (with jobs)."""
    settings = Settings(database_url=database_url, redis_url=redis_url, api_tokens=(TOKEN,))
    redis = Redis.from_url(redis_url)
    jobs = JobStore(redis, settings.queue_name)
    db = Database(database_url)
    try:
        service = ChronoService(db, jobs, settings)
        model = await service.create({"name": "seed-0", "cron": YEARLY, "targetType": "HTTP",
                                      "url": "http://127.0.0.1:9/bench", "method": "POST"})
        columns = [c.key for c in Chrono.__table__.columns if c.key not in ("id", "name", "created_at", "updated_at")]
        for start in range(1, count, SEED_BATCH):
            clones = [Chrono(name=f"seed-{i}", **{c: getattr(model, c) for c in columns})
                      for i in range(start, min(count, start + SEED_BATCH))]
            async with db.session() as session:
                session.add_all(clones)
                await session.flush()
                with redis.pipeline(transaction=False) as pipe:
                    for clone in clones:
                        jobs.put_schedule(_spec(clone), pipeline=pipe)
                    pipe.execute()
    finally:
        await db.dispose()
        redis.close()


def _spec(chrono: Chrono) -> ScheduleSpec:
    if chrono.next_run_at is None:
        raise RuntimeError("a seeded chrono has no next occurrence")
    return schedule_spec(chrono, chrono.next_run_at)


def serve_peer(port: int) -> None:
    """``--serve-peer``: serve the bare Litestar app as ``chronoflow api`` serves ours."""
    from chronoflow.cli import serve_asgi

    serve_asgi(Litestar([hello]), "127.0.0.1", port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure (1-20)")
    parser.add_argument("--seconds", type=float, default=3, help="seconds per wrk round (1-30)")
    parser.add_argument("--chronos", type=int, default=10_000, help="chronos stored before the list figure")
    parser.add_argument("--only", default="", help="comma-separated figures to run: list, health, post (default: all)")
    parser.add_argument("--serve-peer", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_peer:
        serve_peer(args.serve_peer)
        return 0
    if not (1 <= args.rounds <= 20 and 1 <= args.seconds <= 30 and 1 <= args.chronos <= 200_000):
        parser.error("--rounds 1-20, --seconds 1-30, --chronos 1-200000")
    seconds = int(args.seconds)

    with tempfile.TemporaryDirectory(prefix="chronoflow-bench-api-") as tmp, \
            EmbeddedRedis(Path(tmp) / "redis") as redis_server:
        database_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(database_url)
        started = time.monotonic()
        asyncio.run(seed(database_url, redis_server.url, args.chronos))
        print(f"seeded {args.chronos} chronos in {time.monotonic() - started:.1f} s")
        port, peer_port = free_port(), free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_server.url,
               "CHRONOFLOW_API_TOKENS": TOKEN, "CHRONOFLOW_HOME": tmp, "LOG_LEVEL": "WARNING",
               "PORT": str(port)}
        processes = [subprocess.Popen([sys.executable, "-m", "chronoflow", role], env=env, start_new_session=True)
                     for role in ("api", "scheduler", "worker")]
        processes.append(subprocess.Popen([sys.executable, __file__, "--serve-peer", str(peer_port)], env=env,
                                          start_new_session=True))
        try:
            return measure(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}", Path(tmp), args.rounds,
                           seconds, {name for name in args.only.split(",") if name})
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def measure(ours: str, peer: str, tmp: Path, rounds: int, seconds: int, only: set[str]) -> int:
    """Every figure, ours and the peer alternating; prints the table, returns the exit status."""
    if wait_for(f"{peer}/", (200,), START_TIMEOUT_S) != 200:
        print("the peer app did not start", file=sys.stderr)
        return 1
    health_status = wait_for(f"{ours}/health", (200,), START_TIMEOUT_S)
    if health_status == 0:
        print("chronoflow api did not start", file=sys.stderr)
        return 1
    if health_status != 200:
        print(f"note: /health answers {health_status}; its figure counts those answers as errors")
    script = tmp / "post.lua"
    script.write_text(POST_SCRIPT)
    auth = (f"Authorization: Bearer {TOKEN}",)
    figures = {
        "GET /chronos?take=50": ("list", lambda r: run_wrk(f"{ours}/chronos?take=50", seconds, headers=auth)),
        "GET /health": ("health", lambda r: run_wrk(f"{ours}/health", seconds)),
        "POST /chronos": ("post", lambda r: run_wrk(f"{ours}/chronos", seconds, script=script, args=(f"r{r}",))),
    }
    table: list[tuple[str, float, float, int]] = []
    for name, (key, run) in figures.items():
        if only and key not in only:
            continue
        mine, theirs, errors = [], [], 0
        for r in range(rounds):
            result = run(r)
            hello = run_wrk(f"{peer}/", seconds)
            mine.append(result.rate)
            theirs.append(hello.rate)
            errors += result.errors + hello.errors
            print(f"  {name} round {r + 1}: {result.rate:,.0f} req/s, peer {hello.rate:,.0f} req/s"
                  + (f", {result.errors + hello.errors} errors" if result.errors + hello.errors else ""))
        table.append((name, statistics.median(mine), statistics.median(theirs), errors))
    print(f"\nmedians over {rounds} rounds of {seconds} s, wrk -t{THREADS} -c{CONNECTIONS}, one API process, SQLite")
    print(f"{'figure':<24} | {'ours req/s':>10} | {'peer req/s':>10} | {'ratio':>5} | errors")
    for name, mine_median, peer_median, errors in table:
        print(f"{name:<24} | {mine_median:>10,.0f} | {peer_median:>10,.0f} | {mine_median / peer_median:>5.2f} | {errors}")
    print("peer: a bare Litestar hello served by the same uvicorn settings (chronoflow.cli.serve_asgi)")
    return 1 if any(errors for *_, errors in table) else 0


if __name__ == "__main__":
    sys.exit(main())
