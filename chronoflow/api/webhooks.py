"""Provider webhooks: ``POST /waha/webhooks`` (and ``…/sessions/status``), ``POST /evolution/webhooks``.

These routes are public (no bearer token); they authenticate the provider instead, and are closed
until the operator configures how:

- WAHA: ``WAHA_WEBHOOK_HMAC_KEY``; ``X-Webhook-Hmac`` must be the hex HMAC-SHA512 of the raw body;
- Evolution API: ``EVOLUTION_WEBHOOK_SECRET``; the secret in ``X-Webhook-Secret`` or ``?secret=``.

Without its secret a route answers 503 ("webhook secret not configured") to everyone: an open
route would let anyone opt numbers out, make the business number message strangers, or flip a
channel to STOPPED. A webhook that fails authentication is a 401. Either way nothing is stored.

An authenticated webhook is handed to :mod:`chronoflow.channels.inbound`, which stores it once and
acts on it (status, QR, opt-out); a channel back to WORKING resumes the campaigns that paused
for want of a working channel; an opt-out is confirmed to the person after the webhook has been
answered. A delivery seen before is acknowledged (200, ``"duplicate": true``) and not applied again.

Stored events are listed at ``GET /inbound-events`` and can be acted on again with
``POST /inbound-events/{id}/replay`` (both need the bearer token), e.g. after fixing a channel.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from msgspec import Struct

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
from chronoflow.campaigns import CampaignService
from chronoflow.channels import (
    ChannelStatus,
    ProviderKind,
    redact_secrets,
    verify_evolution_secret,
    verify_waha_hmac,
)
from chronoflow.channels.inbound import Applied, confirm_opt_out, list_events, receive, replay
from chronoflow.channels.webhooks import EVOLUTION_SECRET_HEADER, EVOLUTION_SECRET_QUERY, WAHA_HMAC_HEADER
from chronoflow.config import Settings
from chronoflow.errors import InvalidInput, Unauthorized, Unavailable
from chronoflow.scheduling.jobs import JobStore
from chronoflow.store.engine import Database


async def _receive(
    provider: ProviderKind,
    request: Request[Any, Any, Any],
    db: Database,
    settings: Settings,
    jobs: JobStore,
    secret: str,
    verified: Callable[[bytes], bool],
) -> Response[dict[str, Any]]:
    """Refuse when closed, authenticate, then hand the body over; the same steps for both providers."""
    if not secret:
        variable = "WAHA_WEBHOOK_HMAC_KEY" if provider is ProviderKind.WAHA else "EVOLUTION_WEBHOOK_SECRET"
        raise Unavailable(f"{provider.value} webhook secret not configured: set {variable} to open this route")
    raw = await request.body()
    if not verified(raw):
        raise Unauthorized(f"{provider.value} webhook not authenticated")
    receipt = await receive(db, provider, json_object(raw), settings)
    if receipt.applied.action == f"status {ChannelStatus.WORKING.value}":
        await CampaignService(db, jobs, settings).resume_waiting()  # campaigns waiting for a channel
    answer = {"received": True, "duplicate": receipt.duplicate, "eventId": receipt.event_id,
              "action": receipt.applied.action}
    if receipt.problem is not None:
        raise InvalidInput("body", f"{receipt.problem} (stored as event {receipt.event_id})")
    return Response(answer, background=_confirmation(receipt.applied, settings))


def _confirmation(applied: Applied, settings: Settings) -> BackgroundTask | None:
    """The opt-out confirmation to send once the answer is out, if there is one."""
    return BackgroundTask(confirm_opt_out, applied.confirm, settings) if applied.confirm is not None else None


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
async def waha_webhook(request: Request[Any, Any, Any], db: Database, settings: Settings,
                       jobs: JobStore) -> Response[dict[str, Any]]:
    key = settings.waha_webhook_hmac_key
    return await _receive(ProviderKind.WAHA, request, db, settings, jobs, key, _waha_check(request, key))


@post("/evolution/webhooks", status_code=200, tags=["webhooks"],
      summary="Evolution API events (shared secret; 503 until EVOLUTION_WEBHOOK_SECRET is set)",
      security=[{EVOLUTION_SECRET_SCHEME: []}, {EVOLUTION_QUERY_SCHEME: []}], operation_class=WebhookOperation,
      responses=errors(401, 413, 422, 503))
async def evolution_webhook(
    request: Request[Any, Any, Any], db: Database, settings: Settings, jobs: JobStore
) -> Response[dict[str, Any]]:
    secret = settings.evolution_webhook_secret
    return await _receive(ProviderKind.EVOLUTION, request, db, settings, jobs, secret,
                          _evolution_check(request, secret))


class InboundEventOut(Struct, rename="camel"):
    id: str
    provider: str
    event: str
    session: str | None
    payload: Any
    received_at: datetime


@get("/inbound-events", tags=["webhooks"], summary="Stored provider events, newest first (audit)",
     responses=errors(400, 401))
async def list_inbound_events(
    db: Database, skip: Skip = 0, take: Take = 50,
    provider: ProviderQuery = None,
) -> Page[InboundEventOut]:
    rows, total = await list_events(db, skip, take, provider)
    items = [InboundEventOut(id=e.id, provider=e.provider, event=e.event, session=e.session,
                             payload=redact_secrets(e.payload), received_at=e.received_at) for e in rows]
    return Page(items=items, total=total, skip=skip, take=take)


@post("/inbound-events/{event_id:str}/replay", status_code=200, tags=["webhooks"],
      summary="Act on a stored event again (status, opt-out); an opt-out is still confirmed only once",
      responses=errors(400, 401, 404, 409))
async def replay_inbound_event(event_id: str, db: Database, settings: Settings) -> Response[dict[str, Any]]:
    applied = await replay(db, event_id)
    return Response({"eventId": event_id, "action": applied.action}, background=_confirmation(applied, settings))


__all__ = ["evolution_webhook", "list_inbound_events", "replay_inbound_event", "waha_webhook"]
