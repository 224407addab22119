"""Provider webhooks: ``POST /waha/webhooks`` (and ``…/sessions/status``), ``POST /evolution/webhooks``.

These routes are public (no bearer token); they authenticate the provider instead, and are closed
until the operator configures how:

- WAHA: ``WAHA_WEBHOOK_HMAC_KEY``; ``X-Webhook-Hmac`` must be the hex HMAC-SHA512 of the raw body;
- Evolution API: ``EVOLUTION_WEBHOOK_SECRET``; the secret in ``X-Webhook-Secret`` or ``?secret=``.

Without its secret a route answers 503 ("webhook secret not configured") to everyone: an open
route would let anyone opt numbers out, make the business number message strangers, or flip a
channel to STOPPED. A webhook that fails authentication is a 401. Either way nothing is stored.

An authenticated webhook is stored (``inbound_events``, credentials blanked), then acted on: a
status change sets ``Channel.status`` on the channels of that session (a new QR code means
``SCAN_QR_CODE``; a status this version does not know is stored as ``UNKNOWN``); an inbound text
that is an opt-out keyword marks the sender opted out and answers with a confirmation through the
same session, after the webhook has been answered, at most once per number per
:data:`~chronoflow.optouts.CONFIRMATION_INTERVAL_MINUTES`. A delivery whose message or event id
was stored before is acknowledged (200, ``"duplicate": true``) and not applied again.

Stored events are listed at ``GET /inbound-events`` and can be acted on again with
``POST /inbound-events/{id}/replay`` (both need the bearer token), e.g. after fixing a channel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from msgspec import Struct
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.api.channels import SESSION_KEYS, channels_for_session, client_for, set_session_status
from chronoflow.api.json_bodies import json_object
from chronoflow.api.openapi import (
    EVOLUTION_QUERY_SCHEME,
    EVOLUTION_SECRET_SCHEME,
    WAHA_HMAC_SCHEME,
    WebhookOperation,
    errors,
)
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import Page, ProviderQuery
from chronoflow.channels import (
    ChannelEvent,
    ChannelStatus,
    InboundMessage,
    ProviderError,
    ProviderKind,
    QrEvent,
    StatusEvent,
    WebhookPayloadError,
    evolution_event_key,
    opt_out_confirmation,
    parse_evolution_event,
    parse_waha_event,
    provider_for_channel,
    redact_secrets,
    verify_evolution_secret,
    verify_waha_hmac,
    waha_event_key,
)
from chronoflow.channels.webhooks import EVOLUTION_SECRET_HEADER, EVOLUTION_SECRET_QUERY, WAHA_HMAC_HEADER
from chronoflow.config import Settings
from chronoflow.db import Database
from chronoflow.exceptions import Conflict, InvalidInput, NotFound, Unauthorized, Unavailable
from chronoflow.models import Channel, InboundEvent
from chronoflow.optouts import claim_confirmation, record_opt_out, store_event

log = logging.getLogger(__name__)

ENGLISH_KEYWORDS = frozenset({"stop"})
"""Opt-out words answered in English; the others get the Portuguese confirmation."""


EventKey = Callable[[Mapping[str, Any]], str | None]
"""What identifies an event at its provider, for refusing replays."""


async def _receive(
    provider: ProviderKind,
    request: Request[Any, Any, Any],
    db: Database,
    settings: Settings,
    secret: str,
    verified: Callable[[bytes], bool],
    parse: Callable[[Mapping[str, Any]], ChannelEvent | None],
    key_of: EventKey,
) -> Response[dict[str, Any]]:
    """Refuse when closed, authenticate, store once, act; the same steps for both providers."""
    if not secret:
        variable = "WAHA_WEBHOOK_HMAC_KEY" if provider is ProviderKind.WAHA else "EVOLUTION_WEBHOOK_SECRET"
        raise Unavailable(f"{provider.value} webhook secret not configured: set {variable} to open this route")
    raw = await request.body()
    if not verified(raw):
        raise Unauthorized(f"{provider.value} webhook not authenticated")
    body = _decoded(raw)
    try:
        event, problem = parse(body), None
    except WebhookPayloadError as exc:
        event, problem = None, str(exc)
    raw_session, raw_event = body.get(SESSION_KEYS[provider]), body.get("event")
    session_name = raw_session if isinstance(raw_session, str) else None
    name = raw_event if isinstance(raw_event, str) else ""
    async with db.session() as session:
        event_id, new = await store_event(
            session, provider.value, name, session_name, redact_secrets(body), key_of(body))
        action, confirm = await _apply(session, event) if new else ("duplicate", None)
    if not new:
        return Response({"received": True, "duplicate": True, "eventId": event_id, "action": action})
    if problem is not None:
        raise InvalidInput("body", f"{problem} (stored as event {event_id})")
    background = BackgroundTask(_confirm_opt_out, confirm, settings) if confirm is not None else None
    return Response({"received": True, "duplicate": False, "eventId": event_id, "action": action},
                    background=background)


def _decoded(raw: bytes) -> dict[str, Any]:
    """The webhook's JSON object, of bounded depth; InvalidInput naming ``body`` or the deep field."""
    return json_object(raw)


async def _apply(session: AsyncSession, event: ChannelEvent | None) -> tuple[str, tuple[Any, ...] | None]:
    """Act on one event; returns what was done, and an opt-out to confirm (after the answer)."""
    if isinstance(event, StatusEvent):
        await set_session_status(session, event.provider, event.session, event.status)
        if event.status is ChannelStatus.UNKNOWN:
            return f"status UNKNOWN ({event.provider_status!r})", None
        return f"status {event.status.value}", None
    if isinstance(event, QrEvent):
        await set_session_status(session, event.provider, event.session, ChannelStatus.SCAN_QR_CODE)
        return "qr", None
    if isinstance(event, InboundMessage) and event.is_opt_out:
        channels = await channels_for_session(session, event.provider, event.session)
        channel = channels[0] if channels else None
        source = f"{event.provider.value.lower()}:{event.session}: {event.text.strip()!r}"
        new = await record_opt_out(session, event.from_digits, channel_id=channel.id if channel else None,
                                   source=source)
        if not new:
            return "already opted out", None
        if not await claim_confirmation(session, event.from_digits):
            return "opted out (confirmed recently, not again)", None
        return "opted out", (event, channel)
    if isinstance(event, InboundMessage):
        return "message", None
    return "stored", None


async def _confirm_opt_out(confirm: tuple[InboundMessage, Channel | None], settings: Settings) -> None:
    """Tell the person their opt-out is done, once; a failure is logged, never retried into spam."""
    event, channel = confirm
    english = event.text.strip().strip("!.?").casefold() in ENGLISH_KEYWORDS
    text = opt_out_confirmation("en" if english else "pt-BR")
    try:
        client = (client_for(channel, settings) if channel is not None
                  else provider_for_channel(event.provider, {SESSION_KEYS[event.provider]: event.session}, settings))
        async with client:
            await client.send_text(event.from_digits, text)
    except (ProviderError, ValueError) as exc:
        log.warning("opt-out confirmation to %s failed: %s", event.from_digits, exc)
    except Exception:
        log.exception("opt-out confirmation to %s failed unexpectedly", event.from_digits)


def _waha_check(request: Request[Any, Any, Any], key: str) -> Callable[[bytes], bool]:
    def check(raw: bytes) -> bool:
        return verify_waha_hmac(raw, request.headers.get(WAHA_HMAC_HEADER), key)
    return check


def _evolution_check(request: Request[Any, Any, Any], secret: str) -> Callable[[bytes], bool]:
    def check(_: bytes) -> bool:
        return verify_evolution_secret(
            request.headers.get(EVOLUTION_SECRET_HEADER), request.query_params.get(EVOLUTION_SECRET_QUERY), secret
        )
    return check


@post(["/waha/webhooks", "/waha/webhooks/sessions/status"], status_code=200, tags=["webhooks"],
      summary="WAHA events (X-Webhook-Hmac; 503 until WAHA_WEBHOOK_HMAC_KEY is set)", security=[{WAHA_HMAC_SCHEME: []}],
      operation_class=WebhookOperation, responses=errors(401, 413, 422, 503))
async def waha_webhook(request: Request[Any, Any, Any], db: Database, settings: Settings) -> Response[dict[str, Any]]:
    key = settings.waha_webhook_hmac_key
    return await _receive(ProviderKind.WAHA, request, db, settings, key, _waha_check(request, key),
                          parse_waha_event, waha_event_key)


@post("/evolution/webhooks", status_code=200, tags=["webhooks"],
      summary="Evolution API events (shared secret; 503 until EVOLUTION_WEBHOOK_SECRET is set)",
      security=[{EVOLUTION_SECRET_SCHEME: []}, {EVOLUTION_QUERY_SCHEME: []}], operation_class=WebhookOperation,
      responses=errors(401, 413, 422, 503))
async def evolution_webhook(
    request: Request[Any, Any, Any], db: Database, settings: Settings
) -> Response[dict[str, Any]]:
    secret = settings.evolution_webhook_secret
    return await _receive(ProviderKind.EVOLUTION, request, db, settings, secret, _evolution_check(request, secret),
                          parse_evolution_event, evolution_event_key)


class InboundEventOut(Struct, rename="camel"):
    id: str
    provider: str
    event: str
    session: str | None
    payload: Any
    received_at: datetime


_PARSERS: dict[str, Callable[[Mapping[str, Any]], ChannelEvent | None]] = {
    ProviderKind.WAHA.value: parse_waha_event, ProviderKind.EVOLUTION.value: parse_evolution_event,
}


@get("/inbound-events", tags=["webhooks"], summary="Stored provider events, newest first (audit)",
     responses=errors(400, 401))
async def list_inbound_events(
    db: Database, skip: Skip = 0, take: Take = 50,
    provider: ProviderQuery = None,
) -> Page[InboundEventOut]:
    query = select(InboundEvent)
    if provider is not None:
        query = query.where(InboundEvent.provider == provider.upper())
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.order_by(InboundEvent.received_at.desc(), InboundEvent.id).offset(skip).limit(take))
        items = [InboundEventOut(id=e.id, provider=e.provider, event=e.event, session=e.session,
                                 payload=redact_secrets(e.payload), received_at=e.received_at) for e in rows]
    return Page(items=items, total=int(total or 0), skip=skip, take=take)


@post("/inbound-events/{event_id:str}/replay", status_code=200, tags=["webhooks"],
      summary="Act on a stored event again (status, opt-out); an opt-out is still confirmed only once",
      responses=errors(400, 401, 404, 409))
async def replay_inbound_event(event_id: str, db: Database, settings: Settings) -> Response[dict[str, Any]]:
    async with db.session() as session:
        stored = await session.get(InboundEvent, event_id)
        if stored is None:
            raise NotFound("inbound event", event_id)
        parse = _PARSERS.get(stored.provider)
        if parse is None or not isinstance(stored.payload, dict):
            raise Conflict(f"event {event_id} cannot be replayed")
        try:
            event = parse(stored.payload)
        except WebhookPayloadError as exc:
            raise Conflict(f"event {event_id} cannot be replayed: {exc}") from None
        action, confirm = await _apply(session, event)
    background = BackgroundTask(_confirm_opt_out, confirm, settings) if confirm is not None else None
    return Response({"eventId": event_id, "action": action}, background=background)


__all__ = ["evolution_webhook", "list_inbound_events", "replay_inbound_event", "waha_webhook"]
