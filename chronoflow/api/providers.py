"""``/waha/sessions…`` and ``/evolution/instances…``: the providers' session routes, through ChronoFlow.

Each route calls the provider and keeps the matching channels in step: the status a provider
reports after a start, stop, logout or restart (or in a listing) is stored on every channel using
that session; a status this version does not know is ``UNKNOWN``, with the gateway's own word in
``providerStatus``. Creating a session also creates its channel (unless one exists) and points the
session's webhooks at this server, at ``PUBLIC_BASE_URL`` (never at the request's ``Host``, which a
client chooses), signed with ``WAHA_WEBHOOK_HMAC_KEY`` or carrying ``EVOLUTION_WEBHOOK_SECRET``. A
``webhookUrl`` elsewhere gets no ChronoFlow secret. Session names are one URL path segment: no
slash, whitespace, control characters, ``.`` or ``..`` (422 naming ``name``).

The provider is reached with the first matching channel's own base URL and key, or with
``WAHA_BASE_URL``/``WAHA_API_KEY`` (``EVOLUTION_…``) for a session no channel uses. Provider
failures answer 404 (unknown session), 409 (refused in the session's state, or an operation the
provider lacks: Evolution API cannot stop an instance) or 502 (unreachable, 5xx).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_201_CREATED
from msgspec import UNSET, Struct, UnsetType

from chronoflow.api.openapi import QrOperation, errors
from chronoflow.api.schemas import Body, Name, Page, SessionName, WebhookUrl
from chronoflow.channels import ChannelStatus, ProviderKind, check_session_name
from chronoflow.channels.service import ChannelService, session_client
from chronoflow.checks import checked_name
from chronoflow.config import Settings
from chronoflow.errors import Conflict, InvalidInput

WEBHOOK_PATHS = {ProviderKind.WAHA: "/waha/webhooks", ProviderKind.EVOLUTION: "/evolution/webhooks"}
"""Where each provider's events arrive on this server."""


class SessionCreate(Body):
    name: SessionName
    channel_name: Name | UnsetType = UNSET
    """Name of the channel created with the session (default: the session's name)."""
    webhook_url: WebhookUrl | None | UnsetType = UNSET
    """Where the provider posts events: default this server's route under ``PUBLIC_BASE_URL``,
    ``null`` for none; any other URL is given no ChronoFlow secret."""


class SessionOut(Struct, rename="camel", omit_defaults=True):
    name: str
    status: str
    channel_ids: list[str]
    provider_status: str | None = None
    """The gateway's own word for the status, when it gave one (useful when ``status`` is UNKNOWN)."""


class QrOut(Struct):
    mimetype: str
    data: str


class _SessionRoutes(Controller):
    """The routes both providers share; subclasses set ``path`` and ``provider``."""

    provider: ClassVar[ProviderKind]

    async def _sync(
        self, channels: ChannelService, name: str, status: ChannelStatus, provider_status: str | None = None
    ) -> SessionOut:
        synced = await channels.sync_session(self.provider, name, status)
        return SessionOut(name=name, status=status.value, channel_ids=[c.id for c in synced],
                          provider_status=provider_status)

    async def _action(self, channels: ChannelService, name: str, action: str) -> SessionOut:
        async with await channels.session_client(self.provider, name) as client:
            status = await getattr(client, action)()
        return await self._sync(channels, name, status)

    @get("/", summary="List the provider's sessions; their channels take the statuses shown",
         responses=errors(401, 404, 409, 502))
    async def list_sessions(self, channels: ChannelService, settings: Settings) -> Page[SessionOut]:
        async with session_client(self.provider, "default", settings) as client:
            sessions = await client.list_sessions()
        items = [await self._sync(channels, info.name, info.status, info.provider_status) for info in sessions]
        return Page(items=items, total=len(items), skip=0, take=len(items))

    @post("/", status_code=HTTP_201_CREATED, summary="Create and start a session, and its channel",
          responses=errors(400, 401, 404, 409, 413, 422, 502))
    async def create_session(self, data: SessionCreate, channels: ChannelService, settings: Settings) -> SessionOut:
        name = check_session_name(data.name, "name")
        channel_name = name if isinstance(data.channel_name, UnsetType) else checked_name(
            data.channel_name, "channelName")
        own_url = _own_webhook_url(settings, self.provider)
        webhook_url = own_url if isinstance(data.webhook_url, UnsetType) else data.webhook_url
        if webhook_url is not None:
            _check_webhook_url(webhook_url)
        secret = (settings.waha_webhook_hmac_key if self.provider is ProviderKind.WAHA
                  else settings.evolution_webhook_secret) or None
        if webhook_url != own_url:
            secret = None  # ChronoFlow's secret goes only with ChronoFlow's own webhook route
        async with session_client(self.provider, name, settings) as client:
            info = await client.create_session(name, webhook_url=webhook_url, webhook_secret=secret)
        adopted = await channels.adopt_session(self.provider, info, channel_name)
        return SessionOut(name=info.name, status=info.status.value, channel_ids=[c.id for c in adopted],
                          provider_status=info.provider_status)

    @get("/{name:str}", summary="A session's status, stored on its channels", responses=errors(400, 401, 404, 409, 422, 502))
    async def read_session(self, name: str, channels: ChannelService) -> SessionOut:
        return await self._action(channels, name, "status")

    @post("/{name:str}/start", status_code=200, summary="Start a session", responses=errors(400, 401, 404, 409, 422, 502))
    async def start(self, name: str, channels: ChannelService) -> SessionOut:
        return await self._action(channels, name, "start")

    @post("/{name:str}/stop", status_code=200, summary="Stop a session, keeping its pairing (WAHA only)",
          responses=errors(400, 401, 404, 409, 422, 502))
    async def stop(self, name: str, channels: ChannelService) -> SessionOut:
        return await self._action(channels, name, "stop")

    @post("/{name:str}/logout", status_code=200, summary="Unpair the phone", responses=errors(400, 401, 404, 409, 422, 502))
    async def logout(self, name: str, channels: ChannelService) -> SessionOut:
        return await self._action(channels, name, "logout")

    @post("/{name:str}/restart", status_code=200, summary="Restart a session", responses=errors(400, 401, 404, 409, 422, 502))
    async def restart(self, name: str, channels: ChannelService) -> SessionOut:
        return await self._action(channels, name, "restart")

    @get("/{name:str}/auth/qr", summary="The pairing QR: PNG, or {mimetype, data} with Accept: application/json",
         responses=errors(400, 401, 404, 409, 422, 502), operation_class=QrOperation)
    async def qr(self, name: str, request: Request[Any, Any, Any], channels: ChannelService) -> Response[Any]:
        async with await channels.session_client(self.provider, name) as client:
            status = await client.status()
            if status is ChannelStatus.WORKING:
                await self._sync(channels, name, status)
                raise Conflict(f"session {name!r} is already connected (WORKING): there is no QR code to scan")
            code = await client.qr()
        await self._sync(channels, name, ChannelStatus.SCAN_QR_CODE)
        if "application/json" in request.headers.get("accept", ""):
            return Response(QrOut(mimetype=code.mimetype, data=code.data_base64))
        return Response(code.content, media_type=code.mimetype)


def _own_webhook_url(settings: Settings, provider: ProviderKind) -> str:
    """This server's webhook route for ``provider``, as gateways reach it (``PUBLIC_BASE_URL``)."""
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    return base.rstrip("/") + WEBHOOK_PATHS[provider]


def _check_webhook_url(url: str) -> None:
    """An http(s) URL a gateway can post to, or InvalidInput naming ``webhookUrl``."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or not (url.isascii() and url.isprintable()) or " " in url):
        raise InvalidInput("webhookUrl", "must be an http:// or https:// URL with a host, in ASCII without spaces")


class WahaSessionController(_SessionRoutes):
    path = "/waha/sessions"
    tags = ["waha"]  # noqa: RUF012 - Litestar reads it as a class attribute
    provider = ProviderKind.WAHA


class EvolutionInstanceController(_SessionRoutes):
    path = "/evolution/instances"
    tags = ["evolution"]  # noqa: RUF012 - Litestar reads it as a class attribute
    provider = ProviderKind.EVOLUTION


__all__ = ["EvolutionInstanceController", "WahaSessionController"]
