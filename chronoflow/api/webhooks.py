"""Provider webhooks: ``POST /waha/webhooks`` (and ``…/sessions/status``), ``POST /evolution/webhooks``.

These routes are public (no bearer token); they authenticate the provider instead:

- WAHA, when ``WAHA_WEBHOOK_HMAC_KEY`` is set: ``X-Webhook-Hmac`` must be the hex HMAC-SHA512 of
  the raw body;
- Evolution API, when ``EVOLUTION_WEBHOOK_SECRET`` is set: the secret in ``X-Webhook-Secret`` or
  ``?secret=``.

An unauthenticated webhook is a 401 and changes nothing. An authenticated one is stored as
received (``inbound_events``), then acted on: a status change sets ``Channel.status`` on the
channels of that session (a new QR code means ``SCAN_QR_CODE``); an inbound text that is an
opt-out keyword marks the sender opted out and, the first time only, answers with a confirmation
through the same session, after the webhook has been answered.

Stored events are listed at ``GET /inbound-events`` and can be acted on again with
``POST /inbound-events/{id}/replay`` (both need the bearer token), e.g. after fixing a channel.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import Parameter
from msgspec import Struct
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.api.channels import SESSION_KEYS, channels_for_session, client_for, set_session_status
from chronoflow.api.schemas import Page
from chronoflow.channels import (
    ChannelEvent,
    ChannelStatus,
    InboundMessage,
    ProviderError,
    ProviderKind,
    QrEvent,
    StatusEvent,
    WebhookPayloadError,
    opt_out_confirmation,
    parse_evolution_event,
    parse_waha_event,
    provider_for_channel,
    verify_evolution_secret,
    verify_waha_hmac,
)
from chronoflow.channels.webhooks import EVOLUTION_SECRET_HEADER, EVOLUTION_SECRET_QUERY, WAHA_HMAC_HEADER
from chronoflow.config import Settings
from chronoflow.db import Database
from chronoflow.exceptions import Conflict, NotFound
from chronoflow.models import Channel, InboundEvent
from chronoflow.optouts import record_opt_out, store_event

log = logging.getLogger(__name__)

ENGLISH_KEYWORDS = frozenset({"stop"})
"""Opt-out words answered in English; the others get the Portuguese confirmation."""


def _answer(status: int, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"statusCode": status, "detail": detail, **extra}, status_code=status)


async def _receive(
    provider: ProviderKind,
    request: Request[Any, Any, Any],
    db: Database,
    settings: Settings,
    verified: Callable[[bytes], bool | None],
    parse: Callable[[Mapping[str, Any]], ChannelEvent | None],
) -> Response[dict[str, Any]]:
    """Authenticate, store, act; the same steps for both providers."""
    raw = await request.body()
    check = verified(raw)
    if check is False:
        return _answer(401, f"{provider.value} webhook not authenticated")
    if check is None:
        log.warning("%s webhook accepted unauthenticated: no secret is configured", provider.value)
    try:
        body = json.loads(raw)
    except ValueError:
        return _answer(400, "body is not JSON")
    if not isinstance(body, dict):
        return _answer(400, "body must be a JSON object")
    try:
        event, problem = parse(body), None
    except WebhookPayloadError as exc:
        event, problem = None, str(exc)
    raw_session, raw_event = body.get(SESSION_KEYS[provider]), body.get("event")
    session_name = raw_session if isinstance(raw_session, str) else None
    name = raw_event if isinstance(raw_event, str) else ""
    async with db.session() as session:
        stored = await store_event(session, provider.value, name, session_name, body)
        action, confirm = await _apply(session, event)
    if problem is not None:
        return _answer(422, problem, eventId=stored.id)
    background = BackgroundTask(_confirm_opt_out, confirm, settings) if confirm is not None else None
    return Response({"received": True, "eventId": stored.id, "action": action}, background=background)


async def _apply(session: AsyncSession, event: ChannelEvent | None) -> tuple[str, tuple[Any, ...] | None]:
    """Act on one event; returns what was done, and an opt-out to confirm (after the answer)."""
    if isinstance(event, StatusEvent):
        await set_session_status(session, event.provider, event.session, event.status)
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


def _waha_check(request: Request[Any, Any, Any], settings: Settings) -> Callable[[bytes], bool | None]:
    key = settings.waha_webhook_hmac_key

    def check(raw: bytes) -> bool | None:
        return verify_waha_hmac(raw, request.headers.get(WAHA_HMAC_HEADER), key) if key else None
    return check


def _evolution_check(request: Request[Any, Any, Any], settings: Settings) -> Callable[[bytes], bool | None]:
    secret = settings.evolution_webhook_secret

    def check(_: bytes) -> bool | None:
        if not secret:
            return None
        return verify_evolution_secret(
            request.headers.get(EVOLUTION_SECRET_HEADER), request.query_params.get(EVOLUTION_SECRET_QUERY), secret
        )
    return check


@post(["/waha/webhooks", "/waha/webhooks/sessions/status"], status_code=200, tags=["webhooks"],
      summary="WAHA events (HMAC-verified when WAHA_WEBHOOK_HMAC_KEY is set)", security=[])
async def waha_webhook(request: Request[Any, Any, Any], db: Database, settings: Settings) -> Response[dict[str, Any]]:
    return await _receive(ProviderKind.WAHA, request, db, settings, _waha_check(request, settings), parse_waha_event)


@post("/evolution/webhooks", status_code=200, tags=["webhooks"],
      summary="Evolution API events (shared secret when EVOLUTION_WEBHOOK_SECRET is set)", security=[])
async def evolution_webhook(
    request: Request[Any, Any, Any], db: Database, settings: Settings
) -> Response[dict[str, Any]]:
    return await _receive(
        ProviderKind.EVOLUTION, request, db, settings, _evolution_check(request, settings), parse_evolution_event
    )


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


@get("/inbound-events", tags=["webhooks"], summary="Stored provider events, newest first (audit)")
async def list_inbound_events(
    db: Database, skip: Annotated[int, Parameter(ge=0)] = 0, take: Annotated[int, Parameter(ge=1, le=500)] = 50,
    provider: Annotated[str | None, Parameter(query="provider")] = None,
) -> Page[InboundEventOut]:
    query = select(InboundEvent)
    if provider is not None:
        query = query.where(InboundEvent.provider == provider.upper())
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.order_by(InboundEvent.received_at.desc(), InboundEvent.id).offset(skip).limit(take))
        items = [InboundEventOut(id=e.id, provider=e.provider, event=e.event, session=e.session,
                                 payload=e.payload, received_at=e.received_at) for e in rows]
    return Page(items=items, total=int(total or 0), skip=skip, take=take)


@post("/inbound-events/{event_id:str}/replay", status_code=200, tags=["webhooks"],
      summary="Act on a stored event again (status, opt-out); an opt-out is still confirmed only once")
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
