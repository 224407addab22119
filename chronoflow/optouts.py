"""Opt-outs and inbound provider events: what people told us, kept in the database.

An opt-out is global: once a number answered an opt-out keyword (``PARE``, ``STOP``…, see
:mod:`chronoflow.channels.optout`) through any channel, no chrono, function or campaign sends
to it again. Numbers are stored in the canonical digits-only form of
:func:`chronoflow.channels.normalize_number`, the form every sender compares with.

Every authenticated provider webhook is stored as received (:class:`InboundEvent`), whether
ChronoFlow acts on it or not, so what happened can be audited and replayed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.db import utcnow
from chronoflow.models import InboundEvent, OptOut, new_id

__all__ = ["opted_out_among", "record_opt_out", "store_event"]

_QUERY_CHUNK = 500
"""Numbers per ``IN (...)`` query, well under every backend's parameter limit."""


async def opted_out_among(session: AsyncSession, numbers: Collection[str]) -> set[str]:
    """The numbers of ``numbers`` (normalized digits) that opted out."""
    wanted = sorted(set(numbers))
    found: set[str] = set()
    for start in range(0, len(wanted), _QUERY_CHUNK):
        chunk = wanted[start : start + _QUERY_CHUNK]
        found.update(await session.scalars(select(OptOut.number).where(OptOut.number.in_(chunk))))
    return found


async def record_opt_out(session: AsyncSession, number: str, *, channel_id: str | None, source: str) -> bool:
    """Mark ``number`` opted out, once.

    The insert ignores an existing row at the database (``ON CONFLICT DO NOTHING``), so two
    deliveries of the same webhook racing each other record one opt-out and confirm it once.

    Args:
        session: the open transaction.
        number: normalized digits.
        channel_id: the channel it came through, if known.
        source: where it came from, for the audit (``"waha:default: 'PARE'"``).

    Returns:
        True when the number was not opted out before (the caller then confirms it).
    """
    values: dict[str, Any] = {
        "id": new_id(), "number": number, "channel_id": channel_id, "source": source[:1000],
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(OptOut).values(**values).on_conflict_do_nothing(index_elements=["number"])
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def store_event(
    session: AsyncSession, provider: str, event: str, session_name: str | None, payload: Any
) -> InboundEvent:
    """Keep one authenticated webhook as received."""
    row = InboundEvent(
        provider=provider, event=event[:64], session=(session_name or None) and session_name[:200],
        payload=payload, received_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row
