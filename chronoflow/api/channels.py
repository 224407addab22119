"""``/channels``: CRUD of WhatsApp channels, and the channel lookups the provider routes share.

A channel is one WAHA session or one Evolution API instance::

    {"name": "vendas", "provider": "WAHA", "config": {"session": "default"}}
    {"name": "suporte", "provider": "EVOLUTION", "config": {"instance": "suporte", "baseUrl": "http://evo:8080"},
     "apiKey": "…"}

``baseUrl`` defaults to ``WAHA_BASE_URL``/``EVOLUTION_BASE_URL``; the API key to
``WAHA_API_KEY``/``EVOLUTION_API_KEY``, which is only ever sent to that global base URL (a channel
on another server sends its own key or none). A per-channel ``apiKey`` (top level or in ``config``)
is stored apart and never returned: responses only say ``hasApiKey``. A key must be printable
ASCII (it travels in a header), and a PATCH that moves a channel to another server (``baseUrl`` or
``provider``) must give ``apiKey`` again (``null`` for none), so a stored key never follows a
channel to a server it was not meant for. Session and instance names are one URL path segment:
no slash, whitespace, control characters, ``.`` or ``..``. ``status`` is kept in step by
the provider's webhooks and the session routes, in one vocabulary for both providers
(:class:`~chronoflow.channels.ChannelStatus`); creating a channel asks the provider once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from litestar import Controller, delete, get, patch, post
from litestar.status_codes import HTTP_204_NO_CONTENT
from msgspec import UNSET, Struct, UnsetType
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.api.openapi import errors
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import ApiKey, Body, ChannelConfig, Name, Page, ProviderName, ProviderQuery
from chronoflow.channels import (
    ChannelStatus,
    ProviderError,
    ProviderKind,
    RetryPolicy,
    WhatsAppProvider,
    check_api_key,
    check_base_url,
    check_session_name,
    provider_for_channel,
)
from chronoflow.channels.validation import same_server
from chronoflow.config import Settings
from chronoflow.db import Database, utcnow
from chronoflow.exceptions import Conflict, InvalidInput, NotFound
from chronoflow.models import Channel, Chrono

log = logging.getLogger(__name__)

SESSION_KEYS = {ProviderKind.WAHA: "session", ProviderKind.EVOLUTION: "instance"}
"""The config key naming a channel's session, in each provider's own word."""

CONFIG_KEYS = {kind: {key, "baseUrl", "apiKey"} for kind, key in SESSION_KEYS.items()}
"""Config keys a channel of each provider accepts."""

STATUS_PROBE = RetryPolicy(max_retries=0, timeout_s=5.0)
"""One quick look at a session's status when a channel is created: no retries, no long waits."""

# --- bodies -------------------------------------------------------------------------------------
class ChannelCreate(Body):
    name: Name
    provider: ProviderName
    config: ChannelConfig | UnsetType = UNSET
    api_key: ApiKey | None | UnsetType = UNSET


class ChannelUpdate(Body):
    name: Name | UnsetType = UNSET
    provider: ProviderName | UnsetType = UNSET
    config: ChannelConfig | UnsetType = UNSET
    api_key: ApiKey | None | UnsetType = UNSET


class ChannelOut(Struct, rename="camel"):
    id: str
    name: str
    provider: str
    config: dict[str, Any]
    status: str
    has_api_key: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, channel: Channel) -> ChannelOut:
        return cls(
            id=channel.id, name=channel.name, provider=channel.provider,
            config={key: value for key, value in channel.config.items() if key != "apiKey"},
            status=channel.status, has_api_key=bool(channel.api_key), created_at=channel.created_at,
            updated_at=channel.updated_at,
        )


# --- shared by the provider routes and webhooks -------------------------------------------------
def provider_kind(value: object) -> ProviderKind:
    """``WAHA``/``EVOLUTION`` (any case), or InvalidInput naming ``provider``."""
    try:
        return ProviderKind(str(value).upper())
    except ValueError:
        raise InvalidInput("provider", f"must be WAHA or EVOLUTION, got {value!r}") from None


def session_of(channel: Channel) -> str:
    """The session (WAHA) or instance (Evolution) a channel uses."""
    return str(channel.config.get(SESSION_KEYS[provider_kind(channel.provider)], ""))


def client_for(channel: Channel, settings: Settings, policy: RetryPolicy | None = None) -> WhatsAppProvider:
    """A provider client for a stored channel (close it after use)."""
    return provider_for_channel(channel.provider, channel.config, settings, api_key=channel.api_key, policy=policy)


async def channels_for_session(session: AsyncSession, provider: ProviderKind, name: str) -> list[Channel]:
    """Channels using session ``name`` of ``provider``, oldest first.

    Filtered in Python: config is JSON and there are few channels, so this stays portable.
    """
    rows = await session.scalars(
        select(Channel).where(Channel.provider == provider.value).order_by(Channel.created_at, Channel.id)
    )
    return [channel for channel in rows if session_of(channel) == name]


async def set_session_status(
    session: AsyncSession, provider: ProviderKind, name: str, status: ChannelStatus
) -> list[Channel]:
    """Store ``status`` on every channel of session ``name``; returns them."""
    channels = await channels_for_session(session, provider, name)
    now = utcnow()
    for channel in channels:
        if channel.status != status:
            channel.status = status.value
            channel.updated_at = now
    return channels


# --- validation ---------------------------------------------------------------------------------
def _validated(fields: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Channel attributes from the request's fields; InvalidInput naming the first wrong one."""
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", "is required and must be a non-empty string")
    if len(name) > 200:
        raise InvalidInput("name", "must be at most 200 characters")
    kind = provider_kind(fields.get("provider"))
    config = fields.get("config") or {}
    if not isinstance(config, dict):
        raise InvalidInput("config", "must be an object")
    session_key = SESSION_KEYS[kind]
    for key in config:
        if key not in CONFIG_KEYS[kind]:
            raise InvalidInput(
                f"config.{key}",
                f"unknown for a {kind.value} channel; use {', '.join(sorted(CONFIG_KEYS[kind]))}",
            )
    if kind is ProviderKind.WAHA:
        config = {"session": "default", **config}  # WAHA Core serves one session, "default"
    stored = {session_key: check_session_name(config.get(session_key), f"config.{session_key}")}
    if "apiKey" in config:
        api_key = check_api_key(config["apiKey"], "config.apiKey")
    else:
        api_key = check_api_key(fields.get("apiKey"), "apiKey")
    if config.get("baseUrl") is not None:
        stored["baseUrl"] = check_base_url(config["baseUrl"], "config.baseUrl")
    provider_for_channel(kind, stored, settings, api_key=api_key)  # the client builds: no network
    return {"name": name.strip(), "provider": kind.value, "config": stored, "api_key": api_key}


def _moves(old: Channel, new: dict[str, Any], settings: Settings) -> bool:
    """Whether ``new`` sends the channel's requests (and its key) to another provider or server."""
    def server(provider: str, config: dict[str, Any]) -> str:
        default = settings.waha_base_url if provider == ProviderKind.WAHA.value else settings.evolution_base_url
        return str(config.get("baseUrl") or default)
    return old.provider != new["provider"] or not same_server(
        server(old.provider, old.config), server(new["provider"], new["config"]))


async def _probe_status(values: dict[str, Any], settings: Settings) -> ChannelStatus | None:
    """The session's status, asked once; None when the provider cannot tell right now."""
    probe = Channel(**values)
    try:
        async with client_for(probe, settings, STATUS_PROBE) as client:
            return await client.status()
    except ProviderError as exc:
        log.info("status of new channel %r unknown: %s", values["name"], exc)
        return None


# --- routes -------------------------------------------------------------------------------------
class ChannelController(Controller):
    path = "/channels"
    tags = ["channels"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", summary="Create a channel (a WAHA session or an Evolution instance)",
          responses=errors(400, 401, 413, 422))
    async def create(self, data: ChannelCreate, db: Database, settings: Settings) -> ChannelOut:
        values = _validated(data.fields(), settings)
        status = await _probe_status(values, settings)
        async with db.session() as session:
            channel = Channel(**values, status=(status or ChannelStatus.STOPPED).value)
            session.add(channel)
            await session.flush()
        return ChannelOut.of(channel)

    @get("/", summary="List channels", responses=errors(400, 401))
    async def list_channels(
        self, db: Database, skip: Skip = 0, take: Take = 50,
        provider: ProviderQuery = None,
    ) -> Page[ChannelOut]:
        query = select(Channel)
        if provider is not None:
            query = query.where(Channel.provider == provider_kind(provider).value)
        async with db.session() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(query.order_by(Channel.created_at.desc(), Channel.id).offset(skip).limit(take))
            return Page(items=[ChannelOut.of(c) for c in rows], total=int(total or 0), skip=skip, take=take)

    @get("/{channel_id:str}", summary="Read a channel", responses=errors(400, 401, 404))
    async def read(self, channel_id: str, db: Database) -> ChannelOut:
        async with db.session() as session:
            return ChannelOut.of(await _get(session, channel_id))

    @patch("/{channel_id:str}", summary="Update a channel's name, provider, config or API key",
           responses=errors(400, 401, 404, 413, 422))
    async def update(self, channel_id: str, data: ChannelUpdate, db: Database, settings: Settings) -> ChannelOut:
        changes = data.fields()
        async with db.session() as session:
            channel = await _get(session, channel_id)
            stored = {"name": channel.name, "provider": channel.provider, "config": dict(channel.config),
                      "apiKey": channel.api_key}
            if "provider" in changes and "config" not in changes:
                stored["config"] = {}
            values = _validated({**stored, **changes}, settings)
            key_given = "apiKey" in changes or "apiKey" in (changes.get("config") or {})
            if _moves(channel, values, settings) and not key_given:
                raise InvalidInput("apiKey", "must be given again when baseUrl or provider changes (null for "
                                             "none): the stored key is not sent to another server")
            moved = (values["provider"], values["config"]) != (channel.provider, channel.config)
            for key, value in values.items():
                setattr(channel, key, value)
            if moved:
                channel.status = ChannelStatus.STOPPED.value  # unknown until the new session reports
            channel.updated_at = utcnow()
        return ChannelOut.of(channel)

    @delete("/{channel_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a channel no chrono uses",
            responses=errors(400, 401, 404, 409))
    async def remove(self, channel_id: str, db: Database) -> None:
        async with db.session() as session:
            channel = await _get(session, channel_id)
            users = await session.scalar(select(func.count()).select_from(Chrono).where(Chrono.channel_id == channel_id))
            if users:
                raise Conflict(f"channel {channel_id} is used by {users} chrono(s); delete or move them first")
            await session.delete(channel)

    @post("/{channel_id:str}/refresh", status_code=200, summary="Ask the provider for the status now",
          responses=errors(400, 401, 404, 409, 422, 502))
    async def refresh(self, channel_id: str, db: Database, settings: Settings) -> ChannelOut:
        async with db.session() as session:
            channel = await _get(session, channel_id)
        async with client_for(channel, settings) as client:
            status = await client.status()
        async with db.session() as session:
            channel = await _get(session, channel_id)
            channel.status = status.value
            channel.updated_at = utcnow()
        return ChannelOut.of(channel)


async def _get(session: AsyncSession, channel_id: str) -> Channel:
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    return channel


__all__ = [
    "ChannelController",
    "ChannelOut",
    "channels_for_session",
    "client_for",
    "provider_kind",
    "session_of",
    "set_session_status",
]
