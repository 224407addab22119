"""Server-side render time of the console's pages with 10,000 chronos, 100,000 runs and 10,000 contacts.

Run: ``.venv/bin/python bench/console.py [--chronos 10000] [--runs 100000] [--contacts 10000] [--rounds 15]``.
Seeds a throwaway SQLite file (and one started campaign to all the contacts) and an embedded Redis,
then times each page through the in-process app
(no browser: what is measured is the server's share) beside its peer, the REST call that reads
the same data, in the same run. Prints the median milliseconds of each; the aim is under 100 ms
a page.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa
from litestar.testing import TestClient

from chronoflow.api.app import create_app
from chronoflow.config import Settings
from chronoflow.devtools.embedded_redis import EmbeddedRedis
from chronoflow.store.engine import utcnow
from chronoflow.store.migrations import upgrade
from chronoflow.store.models import Chrono, ChronoRun, Contact, ContactTag, Tag, new_id

TOKEN = "bench-token-0123456789"
STATUSES = ("success", "success", "success", "failed", "timeout", "missed")


def seed(path: Path, chronos: int, runs: int) -> list[str]:
    """Write the chronos and runs straight into the database (the API would take minutes)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    now = utcnow()
    ids = [new_id() for _ in range(chronos)]
    with engine.begin() as connection:
        connection.execute(sa.insert(Chrono), [
            {"id": ident, "name": f"chrono {n}", "cron": "*/5 * * * *", "schedule_cron": "*/5 * * * *",
             "timezone": "UTC", "target_type": ("HTTP", "MESSAGE", "FUNCTION")[n % 3], "is_active": n % 4 != 0,
             "is_recurring": True, "url": "http://127.0.0.1:9/", "method": "GET",
             "next_run_at": now + timedelta(minutes=n % 600), "created_at": now, "updated_at": now}
            for n, ident in enumerate(ids)])
        rows = []
        for n in range(runs):
            at = now - timedelta(minutes=n % 2880)
            status = random.choice(STATUSES)
            rows.append({"id": new_id(), "chrono_id": ids[n % chronos], "scheduled_for": at, "attempt": 1,
                         "trigger": "schedule", "status": status, "started_at": at, "finished_at": at,
                         "duration_ms": 40, "error_message": "HTTP 500" if status == "failed" else None, "created_at": at})
            if len(rows) == 10_000:
                connection.execute(sa.insert(ChronoRun), rows)
                rows = []
        if rows:
            connection.execute(sa.insert(ChronoRun), rows)
    engine.dispose()
    return ids


def seed_contacts(path: Path, contacts: int) -> None:
    """``contacts`` contacts, all tagged ``bench``."""
    engine = sa.create_engine(f"sqlite:///{path}")
    now = utcnow()
    tag_id = new_id()
    with engine.begin() as connection:
        connection.execute(sa.insert(Tag), [{"id": tag_id, "name": "bench", "created_at": now, "updated_at": now}])
        rows = [{"id": new_id(), "phone": f"5511{900000000 + n}", "name": f"Contact {n}", "attributes": {},
                 "whatsapp": "unknown", "created_at": now, "updated_at": now} for n in range(contacts)]
        connection.execute(sa.insert(Contact), rows)
        connection.execute(sa.insert(ContactTag), [{"contact_id": r["id"], "tag_id": tag_id} for r in rows])
    engine.dispose()


def started_campaign(client: TestClient, bearer: dict[str, str]) -> str:
    """A campaign to every seeded contact, started (its rows written), through the API."""
    channel = client.post("/channels", headers=bearer, json={"name": "bench", "provider": "WAHA",
                                                             "config": {"session": "bench"}}).json()
    campaign = client.post("/campaigns", headers=bearer, json={
        "name": "bench", "channelIds": [channel["id"]], "messageTemplate": "Oi {{name}}",
        "audience": {"tags": ["bench"]}}).json()
    started = client.post(f"/campaigns/{campaign['id']}/start", headers=bearer)
    assert started.status_code == 200, started.text
    return str(campaign["id"])


def median_ms(client: TestClient, path: str, rounds: int, **headers: str) -> float:
    client.get(path, headers=headers)  # warm-up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        # /health answers 503 here (no scheduler or worker runs): its work is the same.
        assert response.status_code == 200 or path == "/health", (path, response.status_code, response.text[:200])
    return statistics.median(times)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--chronos", type=int, default=10_000)
    options.add_argument("--runs", type=int, default=100_000)
    options.add_argument("--contacts", type=int, default=10_000)
    options.add_argument("--rounds", type=int, default=15)
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{database}"
        upgrade(url)
        ids = seed(database, args.chronos, args.runs)
        seed_contacts(database, args.contacts)
        redis = EmbeddedRedis(Path(tmp) / "redis")
        redis.start()
        try:
            settings = Settings(database_url=url, redis_url=redis.url, api_tokens=(TOKEN,))
            with TestClient(create_app(settings, redis.url, url)) as client:
                client.cookies.set("cf_session", TOKEN)
                bearer = {"Authorization": f"Bearer {TOKEN}"}
                campaign = started_campaign(client, bearer)
                pairs = [
                    ("overview", "/console/", "/health"),
                    ("chrono list", "/console/chronos/", "/chronos?take=20"),
                    ("chrono list, search", "/console/chronos/?q=chrono%209999", "/chronos?take=20&q=chrono%209999"),
                    ("chrono detail + runs", f"/console/chronos/{ids[7]}", f"/chronos/{ids[7]}/runs?take=20"),
                    ("functions", "/console/functions/", "/functions?take=20"),
                    ("contacts", "/console/contacts/", "/contacts?take=25"),
                    ("contacts, search", "/console/contacts/?q=contact%209999", "/contacts?take=25&q=contact%209999"),
                    ("campaigns", "/console/campaigns/", "/campaigns?take=20"),
                    ("campaign detail", f"/console/campaigns/{campaign}", f"/campaigns/{campaign}"),
                ]
                print(f"{args.chronos:,} chronos, {args.runs:,} runs, {args.contacts:,} contacts; "
                      f"median of {args.rounds} (ms)")
                print(f"{'page':<24}{'console':>10}{'REST peer':>12}")
                for name, page, peer in pairs:
                    print(f"{name:<24}{median_ms(client, page, args.rounds):>10.1f}"
                          f"{median_ms(client, peer, args.rounds, **bearer):>12.1f}")
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
