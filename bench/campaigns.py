"""Campaign speed: the audience snapshot (SQLite, PostgreSQL or both), and the cost of a send step.

1. Snapshot: 100,000 tagged contacts (imported with the contact import) snapshotted into recipient
   rows by :func:`chronoflow.campaigns.snapshot.take_snapshot` (audience query, rendering, skip
   rules, bulk insert), beside the peer floor: one bare ``INSERT … SELECT`` of the same rows
   (no rendering, no rules) on the same file.
2. Step overhead: ms per message of campaign send steps (one WORKING channel, zero delay, so one
   send per step), beside a MESSAGE chrono's run to one recipient, both executed in this process
   against the fake gateway on 127.0.0.1 with the same database, HTTP client and gateway. The
   configured delay is not part of either figure: a step never sleeps, it re-arms its job.

    python bench/campaigns.py [--contacts 100000] [--sends 200] [--database sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
from _stack import bench_database
from redis import Redis
from sqlalchemy import text

from chronoflow.campaigns.snapshot import take_snapshot
from chronoflow.campaigns.step import run_step
from chronoflow.config import Settings
from chronoflow.contacts import import_contacts
from chronoflow.devtools.embedded_redis import EmbeddedRedis
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from chronoflow.scheduling.jobs import JobStore
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.migrations import upgrade
from chronoflow.store.models import Campaign, CampaignStatus, Channel, Chrono, ChronoRun, TargetType, new_id
from chronoflow.targets import ExecutionContext
from chronoflow.targets.message import MessageTarget

KEY = "bench-key"


def contacts_csv(count: int) -> bytes:
    lines = ["phone,name,tags,plano"] + [f"55119{i:08d},Cliente {i},vip,ouro" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


async def snapshot_figures(url: str, count: int) -> tuple[float, float]:
    """Seconds for the snapshot, and for the bare INSERT … SELECT of the same rows, on the database at ``url``."""
    db = Database(url)
    try:
        await import_contacts(db, contacts_csv(count), source="body")
        async with db.session() as session:
            channel = Channel(name="c", provider="WAHA", config={"session": "default"}, status="WORKING")
            session.add(channel)
            await session.flush()
            campaign = Campaign(name="bench", channel_ids=[channel.id], message_template="Olá {{name}}, {{plano}}",
                                variants=[], audience={"tags": ["vip"]}, pacing={})
            peer = Campaign(name="peer", channel_ids=[], message_template="x", variants=[], audience={}, pacing={})
            session.add_all([campaign, peer])
        started = time.perf_counter()
        async with db.session() as session:
            stored = await session.get(Campaign, campaign.id)
            assert stored is not None
            report = await take_snapshot(session, stored)
        snapshot_s = time.perf_counter() - started
        assert report.total == count, report
        new_id_sql = "lower(hex(randomblob(16)))" if url.startswith("sqlite") else "md5(random()::text)"
        started = time.perf_counter()
        async with db.engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO campaign_recipients (id, campaign_id, contact_id, phone, chat_id, text, variant, status, "
                f"attempts, created_at, updated_at) SELECT {new_id_sql}, :campaign, c.id, c.phone, "
                "c.whatsapp_chat_id, 'Olá ' || c.name, 0, 'pending', 0, :now, :now FROM contacts c "
                "WHERE EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id "
                "WHERE ct.contact_id = c.id AND t.name = 'vip')"), {"campaign": peer.id, "now": utcnow()})
        bare_s = time.perf_counter() - started
    finally:
        await db.dispose()
    return snapshot_s, bare_s


async def step_figures(directory: str, sends: int) -> tuple[float, float]:
    """Median ms per message: campaign steps, and MESSAGE runs to one recipient."""
    url = f"sqlite+aiosqlite:///{directory}/steps.db"
    with EmbeddedRedis(Path(directory) / "redis") as redis_server, FakeWhatsApp(api_key=KEY) as fake:
        settings = Settings(database_url=url, redis_url=redis_server.url, waha_base_url=fake.url, waha_api_key=KEY,
                            http_max_retries=0)
        redis = Redis.from_url(redis_server.url)
        db = Database(url)
        async with httpx.AsyncClient() as http:
            ctx = ExecutionContext(settings=settings, db=db, http=http, worker_id="bench",
                                   jobs=JobStore(redis, settings.queue_name))
            try:
                await import_contacts(db, contacts_csv(sends), source="body")
                async with db.session() as session:
                    channel = Channel(name="c", provider="WAHA", config={"session": "default"}, status="WORKING")
                    session.add(channel)
                    await session.flush()
                    step_chrono = Chrono(name="steps", cron="x", target_type=TargetType.CAMPAIGN, is_recurring=False)
                    message_chrono = Chrono(name="msg", cron="x", target_type=TargetType.MESSAGE,
                                            channel_id=channel.id, message_template="Olá {{phone}}",
                                            recipients=["5511900000001"])
                    session.add_all([step_chrono, message_chrono])
                    await session.flush()
                    campaign = Campaign(name="bench", channel_ids=[channel.id], message_template="Olá {{name}}",
                                        variants=[], audience={"tags": ["vip"]}, pacing={},
                                        status=CampaignStatus.SENDING, chrono_id=step_chrono.id)
                    session.add(campaign)
                    await session.flush()
                    await take_snapshot(session, campaign)
                step_ms = []
                for _ in range(sends):
                    run = ChronoRun(id=new_id(), chrono_id=step_chrono.id, scheduled_for=utcnow())
                    started = time.perf_counter()
                    result = await run_step(step_chrono, run, ctx)
                    step_ms.append((time.perf_counter() - started) * 1000)
                    assert result.result and result.result["sent"] == 1, result
                target = MessageTarget()
                message_ms = []
                for _ in range(sends):
                    run = ChronoRun(id=new_id(), chrono_id=message_chrono.id, scheduled_for=utcnow(), attempt=1)
                    started = time.perf_counter()
                    outcome = await target.execute(message_chrono, run, ctx)
                    message_ms.append((time.perf_counter() - started) * 1000)
                    assert outcome.status == "success", outcome
            finally:
                await db.dispose()
                redis.close()
    return statistics.median(step_ms), statistics.median(message_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite",
                        help="where the snapshot is measured (a throwaway PostgreSQL 15 cluster for postgres)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chronoflow-bench-") as directory:
        upgrade(f"sqlite+aiosqlite:///{directory}/steps.db")  # Alembic runs its own event loop
        for kind in ("sqlite", "postgres") if args.database == "both" else (args.database,):
            with bench_database(kind, directory) as url:
                snapshot_s, bare_s = asyncio.run(snapshot_figures(url, args.contacts))
            print(f"{kind}: snapshot of {args.contacts:,} contacts: {snapshot_s:.2f} s "
                  f"({args.contacts / snapshot_s:,.0f} rows/s); bare INSERT ... SELECT of the same rows: "
                  f"{bare_s:.2f} s (x{snapshot_s / bare_s:.1f})")
        step, message = asyncio.run(step_figures(directory, args.sends))
        print(f"send step: {step:.1f} ms per message (median of {args.sends}); "
              f"MESSAGE run to one recipient: {message:.1f} ms (x{step / message:.1f})")


if __name__ == "__main__":
    main()
