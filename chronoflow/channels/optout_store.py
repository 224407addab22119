"""Opt-outs and inbound provider events: what people told us, kept in the database.

An opt-out is global: once a number answered an opt-out keyword (``PARE``, ``STOP``…, see
:mod:`chronoflow.channels.optout_keywords`) through any channel, no chrono, function or campaign sends
to it again. Numbers are stored in the canonical digits-only form of
:func:`chronoflow.channels.normalize_number`, the form every sender compares with.

Every authenticated provider webhook is stored as received (:class:`InboundEvent`, credentials
blanked), whether ChronoFlow acts on it or not, so what happened can be audited and replayed. An
event whose provider id was stored before is a delivery seen twice: it is not stored again, and the
caller does not act on it again.

Opt-out confirmations are rate-limited per number (:func:`claim_confirmation`): whatever happens
to the opt-out itself, a number hears "you will not receive our messages" at most once per
:data:`CONFIRMATION_INTERVAL_MINUTES`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.store.engine import utcnow
from chronoflow.store.models import Base, InboundEvent, OptOut, OptOutConfirmation, new_id

__all__ = [
    "CONFIRMATION_INTERVAL_MINUTES",
    "claim_confirmation",
    "opted_out_among",
    "record_opt_out",
    "store_event",
]

_QUERY_CHUNK = 500
"""Numbers per ``IN (...)`` query, well under every backend's parameter limit."""

CONFIRMATION_INTERVAL_MINUTES = 24 * 60
"""At most one opt-out confirmation per number in this many minutes (a day)."""


def _insert_ignoring(session: AsyncSession, model: type[Base], conflict: list[str], values: dict[str, Any]) -> Any:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` in the session's dialect."""
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)


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
    result = await session.execute(_insert_ignoring(session, OptOut, ["number"], values))
    return bool(getattr(result, "rowcount", 0))


async def claim_confirmation(session: AsyncSession, number: str, *, now: datetime | None = None) -> bool:
    """Whether ``number`` may be sent an opt-out confirmation now; if so, the send is recorded.

    One conditional UPDATE (a confirmation older than the interval) or one INSERT that ignores an
    existing row: two webhooks racing each other claim it once.
    """
    now = now or utcnow()
    cutoff = now - timedelta(minutes=CONFIRMATION_INTERVAL_MINUTES)
    renewed = await session.execute(
        update(OptOutConfirmation)
        .where(OptOutConfirmation.number == number, OptOutConfirmation.sent_at <= cutoff)
        .values(sent_at=now)
    )
    if getattr(renewed, "rowcount", 0):
        return True
    first = await session.execute(
        _insert_ignoring(session, OptOutConfirmation, ["number"], {"number": number, "sent_at": now}))
    return bool(getattr(first, "rowcount", 0))


async def store_event(
    session: AsyncSession, provider: str, event: str, session_name: str | None, payload: Any,
    event_key: str | None = None,
) -> tuple[str, bool]:
    """Keep one authenticated webhook as received; returns its row id and whether it is new.

    With an ``event_key`` seen before for this provider, nothing is stored: the id is the stored
    event's and ``new`` is False (the caller acknowledges it and does not act again).
    """
    values: dict[str, Any] = {
        "id": new_id(), "provider": provider, "event": event[:64],
        "session": (session_name or None) and session_name[:200], "payload": payload,
        "received_at": utcnow(), "event_key": event_key,
    }
    if event_key is None:
        session.add(InboundEvent(**values))
        await session.flush()
        return values["id"], True
    inserted = await session.execute(_insert_ignoring(session, InboundEvent, ["provider", "event_key"], values))
    if getattr(inserted, "rowcount", 0):
        return values["id"], True
    known = await session.scalar(
        select(InboundEvent.id).where(InboundEvent.provider == provider, InboundEvent.event_key == event_key))
    return str(known), False
