"""Inbound provider events: store each once, then act on it (status, QR, opt-out), or again on replay.

An authenticated webhook body is stored (``inbound_events``, credentials blanked), then acted on:
a status change sets ``Channel.status`` on the channels of that session (a new QR code means
``SCAN_QR_CODE``; a status this version does not know is stored as ``UNKNOWN``); a delivery receipt
moves the campaign row of that message forward (:mod:`chronoflow.campaigns.receipts`); an inbound text
that is an opt-out keyword marks the sender opted out (a WAHA ``@lid`` sender once its number is
resolved, :func:`resolve_lid`), and the caller confirms it to the person
(:func:`confirm_opt_out`) after answering the provider, at most once per number per
:data:`~chronoflow.channels.optout_store.CONFIRMATION_INTERVAL_MINUTES`. A delivery whose message or event id
was stored before is reported as a duplicate and not applied again.

Authenticating the request is the caller's (the API): this module starts from a trusted body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.channels.base import SESSION_KEYS, ChannelStatus, ProviderKind
from chronoflow.channels.errors import ProviderError, WebhookPayloadError
from chronoflow.channels.optout_keywords import opt_out_confirmation
from chronoflow.channels.optout_store import claim_confirmation, record_opt_out, store_event
from chronoflow.channels.phone import normalize_number
from chronoflow.channels.records import evolution_event_key, redact_secrets, waha_event_key
from chronoflow.channels.service import channels_for_session, client_for, session_client, set_session_status
from chronoflow.channels.waha import WahaClient
from chronoflow.channels.webhooks import (
    ChannelEvent,
    InboundMessage,
    QrEvent,
    ReceiptEvent,
    StatusEvent,
    parse_evolution_event,
    parse_waha_event,
)
from chronoflow.config import Settings
from chronoflow.errors import Conflict
from chronoflow.store.engine import Database
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import Channel, InboundEvent

__all__ = [
    "ENGLISH_KEYWORDS",
    "Applied",
    "OptOutConfirmation",
    "Receipt",
    "apply_event",
    "confirm_opt_out",
    "list_events",
    "receive",
    "replay",
]

log = logging.getLogger(__name__)

ENGLISH_KEYWORDS = frozenset({"stop"})
"""Opt-out words answered in English; the others get the Portuguese confirmation."""

Parser = Callable[[Mapping[str, Any]], ChannelEvent | None]
"""Reads a provider's webhook body into an event (``None`` for events ChronoFlow ignores)."""

EventKey = Callable[[Mapping[str, Any]], str | None]
"""What identifies an event at its provider, for refusing replays."""

PARSERS: dict[ProviderKind, Parser] = {
    ProviderKind.WAHA: parse_waha_event, ProviderKind.EVOLUTION: parse_evolution_event,
}
"""Each provider's webhook reader."""

EVENT_KEYS: dict[ProviderKind, EventKey] = {
    ProviderKind.WAHA: waha_event_key, ProviderKind.EVOLUTION: evolution_event_key,
}
"""Each provider's event identity, for refusing a delivery seen before."""


@dataclass(frozen=True, slots=True)
class OptOutConfirmation:
    """An opt-out to confirm to the person, through their channel (or the session's global server)."""

    event: InboundMessage
    channel: Channel | None


@dataclass(frozen=True, slots=True)
class Applied:
    """What acting on one event did, and the opt-out to confirm once the provider has its answer."""

    action: str
    confirm: OptOutConfirmation | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one webhook delivery.

    ``problem`` is set when the body was stored but could not be read as an event.
    """

    event_id: str
    duplicate: bool
    applied: Applied
    problem: str | None = None


async def resolve_lid(db: Database, settings: Settings, event: InboundMessage) -> InboundMessage:
    """``event`` with the number behind its ``@lid`` sender, asked of WAHA; unchanged when it cannot say."""
    assert event.lid is not None
    try:
        async with db.session() as session:
            channels = await channels_for_session(session, event.provider, event.session)
        client = client_for(channels[0], settings) if channels else session_client(event.provider, event.session,
                                                                                   settings)
        async with client:
            digits = await client.resolve_lid(event.lid) if isinstance(client, WahaClient) else None
        number = normalize_number(digits) if digits else None
    except (ProviderError, ValueError) as exc:
        log.warning("could not resolve %s: %s", event.lid, exc)
        return event
    return replace(event, from_digits=number) if number else event


async def receive(db: Database, provider: ProviderKind, body: Mapping[str, Any],
                  settings: Settings | None = None) -> Receipt:
    """Store an authenticated webhook body once and act on it.

    With ``settings``, an opt-out from a WAHA ``@lid`` sender is first resolved to its number (before
    the transaction: it is a call to the gateway); the raw event is stored either way.
    """
    try:
        event, problem = PARSERS[provider](body), None
    except WebhookPayloadError as exc:
        event, problem = None, str(exc)
    if settings is not None and isinstance(event, InboundMessage) and event.lid and event.is_opt_out:
        event = await resolve_lid(db, settings, event)
    raw_session, raw_event = body.get(SESSION_KEYS[provider]), body.get("event")
    session_name = raw_session if isinstance(raw_session, str) else None
    name = raw_event if isinstance(raw_event, str) else ""
    async with db.session() as session:
        event_id, new = await store_event(
            session, provider.value, name, session_name, redact_secrets(body), EVENT_KEYS[provider](body))
        applied = await apply_event(session, event) if new else Applied("duplicate")
    return Receipt(event_id=event_id, duplicate=not new, applied=applied, problem=problem if new else None)


async def apply_event(session: AsyncSession, event: ChannelEvent | None) -> Applied:
    """Act on one event; returns what was done, and an opt-out to confirm (after the answer)."""
    if isinstance(event, StatusEvent):
        await set_session_status(session, event.provider, event.session, event.status)
        if event.status is ChannelStatus.UNKNOWN:
            return Applied(f"status UNKNOWN ({event.provider_status!r})")
        return Applied(f"status {event.status.value}")
    if isinstance(event, QrEvent):
        await set_session_status(session, event.provider, event.session, ChannelStatus.SCAN_QR_CODE)
        return Applied("qr")
    if isinstance(event, ReceiptEvent):
        from chronoflow.campaigns.receipts import record_receipt  # campaigns build on channels

        moved = await record_receipt(session, event.message_id, event.receipt)
        return Applied(f"{event.receipt.value} ({moved} campaign row{'' if moved == 1 else 's'})")
    if isinstance(event, InboundMessage) and event.is_opt_out and not event.from_digits:
        return Applied(f"opt-out from {event.lid}, whose number is unknown: stored only")
    if isinstance(event, InboundMessage) and event.is_opt_out:
        channels = await channels_for_session(session, event.provider, event.session)
        channel = channels[0] if channels else None
        source = f"{event.provider.value.lower()}:{event.session}: {event.text.strip()!r}"
        new = await record_opt_out(session, event.from_digits, channel_id=channel.id if channel else None,
                                   source=source)
        if not new:
            return Applied("already opted out")
        if not await claim_confirmation(session, event.from_digits):
            return Applied("opted out (confirmed recently, not again)")
        return Applied("opted out", OptOutConfirmation(event, channel))
    if isinstance(event, InboundMessage):
        return Applied("message")
    return Applied("stored")


async def confirm_opt_out(confirm: OptOutConfirmation, settings: Settings) -> None:
    """Tell the person their opt-out is done, once; a failure is logged, never retried into spam."""
    event = confirm.event
    english = event.text.strip().strip("!.?").casefold() in ENGLISH_KEYWORDS
    text = opt_out_confirmation("en" if english else "pt-BR")
    try:
        client = (client_for(confirm.channel, settings) if confirm.channel is not None
                  else session_client(event.provider, event.session, settings))
        async with client:
            await client.send_text(event.from_digits, text)
    except (ProviderError, ValueError) as exc:
        log.warning("opt-out confirmation to %s failed: %s", event.from_digits, exc)
    except Exception:
        log.exception("opt-out confirmation to %s failed unexpectedly", event.from_digits)


async def replay(db: Database, event_id: str) -> Applied:
    """Act on a stored event again; NotFound, or Conflict when it cannot be read as an event."""
    async with db.session() as session:
        stored = await get_or_404(session, InboundEvent, event_id, "inbound event")
        try:
            parse = PARSERS[ProviderKind(stored.provider)]
        except ValueError:
            raise Conflict(f"event {event_id} cannot be replayed") from None
        if not isinstance(stored.payload, dict):
            raise Conflict(f"event {event_id} cannot be replayed")
        try:
            event = parse(stored.payload)
        except WebhookPayloadError as exc:
            raise Conflict(f"event {event_id} cannot be replayed: {exc}") from None
        return await apply_event(session, event)


async def list_events(db: Database, skip: int, take: int, provider: str | None) -> tuple[list[InboundEvent], int]:
    """A page of stored events, newest first, and how many there are in all."""
    query = select(InboundEvent)
    if provider is not None:
        query = query.where(InboundEvent.provider == provider.upper())
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.order_by(InboundEvent.received_at.desc(), InboundEvent.id).offset(skip).limit(take))
        return list(rows), int(total or 0)
