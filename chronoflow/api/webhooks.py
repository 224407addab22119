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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.api.channels import SESSION_KEYS, channels_for_session, client_for, set_session_status
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
from chronoflow.models import Channel
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


__all__ = ["evolution_webhook", "waha_webhook"]
