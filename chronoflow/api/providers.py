"""``/waha/sessions…`` and ``/evolution/instances…``: the providers' session routes, through ChronoFlow.

Each route calls the provider and keeps the matching channels in step: the status a provider
reports after a start, stop, logout or restart (or in a listing) is stored on every channel using
that session. Creating a session also creates its channel (unless one exists) and points the
session's webhooks at this server, signed with ``WAHA_WEBHOOK_HMAC_KEY`` or carrying
``EVOLUTION_WEBHOOK_SECRET``.

The provider is reached with the first matching channel's own base URL and key, or with
``WAHA_BASE_URL``/``WAHA_API_KEY`` (``EVOLUTION_…``) for a session no channel uses. Provider
failures answer 404 (unknown session), 409 (refused in the session's state, or an operation the
provider lacks: Evolution API cannot stop an instance) or 502 (unreachable, 5xx).
"""

from __future__ import annotations

from typing import Any, ClassVar

from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_201_CREATED
from msgspec import UNSET, Struct, UnsetType

from chronoflow.api.channels import (
    PROVIDER_ERROR_HANDLERS,
    SESSION_KEYS,
    channels_for_session,
    client_for,
    set_session_status,
)
from chronoflow.api.schemas import Body, Page
from chronoflow.channels import ChannelStatus, ProviderKind, WhatsAppProvider, provider_for_channel
from chronoflow.config import Settings
from chronoflow.db import Database
from chronoflow.exceptions import Conflict, InvalidInput
from chronoflow.models import Channel

WEBHOOK_PATHS = {ProviderKind.WAHA: "/waha/webhooks", ProviderKind.EVOLUTION: "/evolution/webhooks"}
"""Where each provider's events arrive on this server."""


class SessionCreate(Body):
    name: str
    channel_name: str | UnsetType = UNSET
    """Name of the channel created with the session (default: the session's name)."""
    webhook_url: str | None | UnsetType = UNSET
    """Where the provider posts events; default this server's webhook route, ``null`` for none."""


class SessionOut(Struct, rename="camel"):
    name: str
    status: str
    channel_ids: list[str]


class QrOut(Struct):
    mimetype: str
    data: str


class _SessionRoutes(Controller):
    """The routes both providers share; subclasses set ``path`` and ``provider``."""

    provider: ClassVar[ProviderKind]
    exception_handlers = PROVIDER_ERROR_HANDLERS

    async def _client(self, db: Database, settings: Settings, name: str) -> WhatsAppProvider:
        async with db.session() as session:
            channels = await channels_for_session(session, self.provider, name)
        if channels:
            return client_for(channels[0], settings)
        return provider_for_channel(self.provider, {SESSION_KEYS[self.provider]: name}, settings)

    async def _sync(self, db: Database, name: str, status: ChannelStatus) -> SessionOut:
        async with db.session() as session:
            channels = await set_session_status(session, self.provider, name, status)
        return SessionOut(name=name, status=status.value, channel_ids=[c.id for c in channels])

    async def _action(self, db: Database, settings: Settings, name: str, action: str) -> SessionOut:
        async with await self._client(db, settings, name) as client:
            status = await getattr(client, action)()
        return await self._sync(db, name, status)

    @get("/", summary="List the provider's sessions; their channels take the statuses shown")
    async def list_sessions(self, db: Database, settings: Settings) -> Page[SessionOut]:
        async with provider_for_channel(self.provider, {SESSION_KEYS[self.provider]: "default"}, settings) as client:
            sessions = await client.list_sessions()
        items = [await self._sync(db, info.name, info.status) for info in sessions]
        return Page(items=items, total=len(items), skip=0, take=len(items))

    @post("/", status_code=HTTP_201_CREATED, summary="Create and start a session, and its channel")
    async def create_session(
        self, data: SessionCreate, request: Request[Any, Any, Any], db: Database, settings: Settings
    ) -> SessionOut:
        name = data.name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("name", "must be a session name of 1-200 characters")
        channel_name = name if isinstance(data.channel_name, UnsetType) else data.channel_name.strip()
        if not channel_name or len(channel_name) > 200:
            raise InvalidInput("channelName", "must be 1-200 characters")
        webhook_url = data.webhook_url
        if isinstance(webhook_url, UnsetType):
            webhook_url = str(request.base_url).rstrip("/") + WEBHOOK_PATHS[self.provider]
        elif webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise InvalidInput("webhookUrl", "must be an http:// or https:// URL")
        secret = (settings.waha_webhook_hmac_key if self.provider is ProviderKind.WAHA
                  else settings.evolution_webhook_secret) or None
        async with provider_for_channel(self.provider, {SESSION_KEYS[self.provider]: name}, settings) as client:
            info = await client.create_session(name, webhook_url=webhook_url, webhook_secret=secret)
        async with db.session() as session:
            channels = await set_session_status(session, self.provider, info.name, info.status)
            if not channels:
                channel = Channel(name=channel_name, provider=self.provider.value,
                                  config={SESSION_KEYS[self.provider]: info.name}, status=info.status.value)
                session.add(channel)
                await session.flush()
                channels = [channel]
        return SessionOut(name=info.name, status=info.status.value, channel_ids=[c.id for c in channels])

    @get("/{name:str}", summary="A session's status, stored on its channels")
    async def read_session(self, name: str, db: Database, settings: Settings) -> SessionOut:
        return await self._action(db, settings, name, "status")

    @post("/{name:str}/start", status_code=200, summary="Start a session")
    async def start(self, name: str, db: Database, settings: Settings) -> SessionOut:
        return await self._action(db, settings, name, "start")

    @post("/{name:str}/stop", status_code=200, summary="Stop a session, keeping its pairing (WAHA only)")
    async def stop(self, name: str, db: Database, settings: Settings) -> SessionOut:
        return await self._action(db, settings, name, "stop")

    @post("/{name:str}/logout", status_code=200, summary="Unpair the phone")
    async def logout(self, name: str, db: Database, settings: Settings) -> SessionOut:
        return await self._action(db, settings, name, "logout")

    @post("/{name:str}/restart", status_code=200, summary="Restart a session")
    async def restart(self, name: str, db: Database, settings: Settings) -> SessionOut:
        return await self._action(db, settings, name, "restart")

    @get("/{name:str}/auth/qr", summary="The pairing QR: PNG, or {mimetype, data} with Accept: application/json")
    async def qr(self, name: str, request: Request[Any, Any, Any], db: Database, settings: Settings) -> Response[Any]:
        async with await self._client(db, settings, name) as client:
            status = await client.status()
            if status is ChannelStatus.WORKING:
                await self._sync(db, name, status)
                raise Conflict(f"session {name!r} is already connected (WORKING): there is no QR code to scan")
            code = await client.qr()
        await self._sync(db, name, ChannelStatus.SCAN_QR_CODE)
        if "application/json" in request.headers.get("accept", ""):
            return Response(QrOut(mimetype=code.mimetype, data=code.data_base64))
        return Response(code.content, media_type=code.mimetype)


class WahaSessionController(_SessionRoutes):
    path = "/waha/sessions"
    tags = ["waha"]  # noqa: RUF012 - Litestar reads it as a class attribute
    provider = ProviderKind.WAHA


class EvolutionInstanceController(_SessionRoutes):
    path = "/evolution/instances"
    tags = ["evolution"]  # noqa: RUF012 - Litestar reads it as a class attribute
    provider = ProviderKind.EVOLUTION


__all__ = ["EvolutionInstanceController", "WahaSessionController"]
