"""The audience snapshot: one recipient row per selected contact, written in bulk at start.

Each row gets its text rendered once, from the template or one variant chosen at random, so what
a contact is sent never changes under the campaign's feet. Contacts that must not be messaged
still get a row, ``skipped`` with the reason: opted out, excluded by tag, not on WhatsApp, or
lacking a placeholder's value (never sent a blank).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert

from chronoflow.campaigns.audience import Audience, Member, members
from chronoflow.channels import MissingVariable, render
from chronoflow.store.engine import utcnow
from chronoflow.store.models import CampaignRecipient, RecipientStatus, WhatsAppState, new_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from chronoflow.store.models import Campaign

RECIPIENTS = cast(Table, CampaignRecipient.__table__)

INSERT_BATCH = 10_000
"""Rows per driver-level write (``executemany``, or ``COPY`` on PostgreSQL)."""

SKIP_OPTED_OUT = "opted out"
SKIP_EXCLUDED = "excluded by tag"
SKIP_INVALID = "not on WhatsApp"


@dataclass
class Snapshot:
    """What the snapshot wrote: rows by status, and skip reasons counted."""

    total: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    skipped_reasons: Counter[str] = field(default_factory=Counter)


def _row(member: Member, texts: list[str], rng: random.Random) -> tuple[str, int, str | None, str | None]:
    """Status, variant, text and skip reason of one contact's row."""
    variant = rng.randrange(len(texts))
    if member.opted_out:
        return RecipientStatus.SKIPPED, variant, None, SKIP_OPTED_OUT
    if member.excluded:
        return RecipientStatus.SKIPPED, variant, None, SKIP_EXCLUDED
    if member.whatsapp == WhatsAppState.INVALID:
        return RecipientStatus.SKIPPED, variant, None, SKIP_INVALID
    values: dict[str, Any] = {**member.attributes, "name": member.name, "phone": member.phone}
    try:
        return RecipientStatus.PENDING, variant, render(texts[variant], values), None
    except MissingVariable as exc:
        return RecipientStatus.SKIPPED, variant, None, f"no value for {{{{{exc.name}}}}}"


async def take_snapshot(session: AsyncSession, campaign: Campaign, seed: int | None = None) -> Snapshot:
    """Write the campaign's recipient rows in the open transaction; returns the counts."""
    audience = await Audience.stored(campaign.audience, session)
    texts = [campaign.message_template, *campaign.variants]
    rng = random.Random(seed)
    now = utcnow()
    report = Snapshot()
    connection = await session.connection()
    dialect = connection.dialect
    keys = ["id", "campaign_id", "contact_id", "phone", "chat_id", "channel_id", "text", "variant", "status",
            "attempts", "error", "created_at", "updated_at"]
    compiled = insert(RECIPIENTS).values({key: bindparam(key) for key in keys}).compile(dialect=dialect)
    order = list(compiled.positiontup or [])
    stamp = RECIPIENTS.c.created_at.type.bind_processor(dialect)
    stamped = stamp(now) if stamp else now
    rows: list[tuple[Any, ...]] = []
    for member in await members(session, audience):
        status, variant, text, reason = _row(member, texts, rng)
        values = {"id": new_id(), "campaign_id": campaign.id, "contact_id": member.contact_id,
                  "phone": member.phone, "chat_id": member.chat_id, "channel_id": None, "text": text,
                  "variant": variant, "status": str(status), "attempts": 0, "error": reason,
                  "created_at": stamped, "updated_at": stamped}
        rows.append(tuple(values[key] for key in order))
        report.total += 1
        report.by_status[str(status)] += 1
        if reason:
            report.skipped_reasons[reason] += 1
        if len(rows) >= INSERT_BATCH:
            await _write(connection, str(compiled), order, rows)
            rows = []
    if rows:
        await _write(connection, str(compiled), order, rows)
    return report


async def _write(connection: AsyncConnection, statement: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (values in ``columns`` order) in the connection's transaction.

    PostgreSQL takes them through ``COPY`` (asyncpg's binary copy), about twice as fast as a
    multi-row ``executemany`` at 100,000 rows; SQLite through one ``executemany`` per batch.
    """
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(RECIPIENTS.name, records=rows, columns=columns)
    else:
        await connection.exec_driver_sql(statement, rows)


__all__ = ["Snapshot", "take_snapshot"]
