"""The channel service: the rules for storing WhatsApp channels and keeping their status in step.

A channel is one WAHA session or one Evolution API instance::

    {"name": "vendas", "provider": "WAHA", "config": {"session": "default"}}
    {"name": "suporte", "provider": "EVOLUTION", "config": {"instance": "suporte", "baseUrl": "http://evo:8080"},
     "apiKey": "…"}

``baseUrl`` defaults to ``WAHA_BASE_URL``/``EVOLUTION_BASE_URL``; the API key to
``WAHA_API_KEY``/``EVOLUTION_API_KEY``, which is only ever sent to that global base URL. A
per-channel ``apiKey`` (top level or in ``config``) is stored apart from the config. A change that
moves a channel to another server (``baseUrl`` or ``provider``) must give ``apiKey`` again, so a
stored key never follows a channel to a server it was not meant for. ``status`` is kept in step by
the provider's webhooks and the session routes; creating a channel asks the provider once.

Every refusal is raised (:class:`~chronoflow.errors.InvalidInput`, ``NotFound``, ``Conflict``,
:class:`~chronoflow.channels.errors.ProviderError`); the API turns them into HTTP answers.
"""

from __future__ import annotations

import builtins
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.channels.base import SESSION_KEYS, ChannelStatus, ProviderKind, SessionInfo, WhatsAppProvider
from chronoflow.channels.errors import ProviderError
from chronoflow.channels.factory import provider_for_channel
from chronoflow.channels.transport import RetryPolicy
from chronoflow.channels.validation import check_api_key, check_base_url, check_session_name, same_server
from chronoflow.checks import checked_name
from chronoflow.config import Settings
from chronoflow.errors import Conflict, InvalidInput
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import Channel, Chrono

__all__ = [
    "CONFIG_KEYS",
    "ChannelService",
    "channels_for_session",
    "client_for",
    "existing_channel_id",
    "provider_kind",
    "session_client",
    "session_of",
    "set_session_status",
]

log = logging.getLogger(__name__)

CONFIG_KEYS = {kind: {key, "baseUrl", "apiKey"} for kind, key in SESSION_KEYS.items()}
"""Config keys a channel of each provider accepts."""

STATUS_PROBE = RetryPolicy(max_retries=0, timeout_s=5.0)
"""One quick look at a session's status when a channel is created: no retries, no long waits."""


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


def session_client(provider: ProviderKind, name: str, settings: Settings) -> WhatsAppProvider:
    """A client for session ``name`` on the provider's global server, for a session no channel describes."""
    return provider_for_channel(provider, {SESSION_KEYS[provider]: name}, settings)


async def existing_channel_id(session: AsyncSession, channel_id: object, field: str) -> str:
    """``channel_id`` when a channel has it; InvalidInput naming ``field`` otherwise."""
    if not isinstance(channel_id, str) or not channel_id.strip():
        raise InvalidInput(field, "must be a channel id")
    if await session.get(Channel, channel_id) is None:
        raise InvalidInput(field, f"no channel with id {channel_id!r}")
    return channel_id


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


class ChannelService:
    """Create, read, change and delete channels; keep sessions and channels in step."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    # --- channels ------------------------------------------------------------------------------
    async def create(self, fields: dict[str, Any]) -> Channel:
        """A new channel from the request's camelCase ``fields``, its status asked of the provider once."""
        values = self._validated(fields)
        status = await self._probe_status(values)
        async with self.db.session() as session:
            channel = Channel(**values, status=(status or ChannelStatus.STOPPED).value)
            session.add(channel)
            await session.flush()
        return channel

    async def list(self, skip: int, take: int, provider: str | None) -> tuple[list[Channel], int]:
        """A page of channels, newest first, and how many there are in all."""
        query = select(Channel)
        if provider is not None:
            query = query.where(Channel.provider == provider_kind(provider).value)
        async with self.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(query.order_by(Channel.created_at.desc(), Channel.id).offset(skip).limit(take))
            return list(rows), int(total or 0)

    async def get(self, channel_id: str) -> Channel:
        """One channel, or NotFound."""
        async with self.db.session() as session:
            return await get_or_404(session, Channel, channel_id, "channel")

    async def update(self, channel_id: str, changes: dict[str, Any]) -> Channel:
        """Apply the request's camelCase ``changes``; a move to another server needs ``apiKey`` again."""
        async with self.db.session() as session:
            channel = await get_or_404(session, Channel, channel_id, "channel")
            stored = {"name": channel.name, "provider": channel.provider, "config": dict(channel.config),
                      "apiKey": channel.api_key}
            if "provider" in changes and "config" not in changes:
                stored["config"] = {}
            values = self._validated({**stored, **changes})
            key_given = "apiKey" in changes or "apiKey" in (changes.get("config") or {})
            if self._moves(channel, values) and not key_given:
                raise InvalidInput("apiKey", "must be given again when baseUrl or provider changes (null for "
                                             "none): the stored key is not sent to another server")
            moved = (values["provider"], values["config"]) != (channel.provider, channel.config)
            for key, value in values.items():
                setattr(channel, key, value)
            if moved:
                channel.status = ChannelStatus.STOPPED.value  # unknown until the new session reports
            channel.updated_at = utcnow()
        return channel

    async def delete(self, channel_id: str) -> None:
        """Delete a channel no chrono uses; Conflict when one does."""
        async with self.db.session() as session:
            channel = await get_or_404(session, Channel, channel_id, "channel")
            users = await session.scalar(select(func.count()).select_from(Chrono).where(Chrono.channel_id == channel_id))
            if users:
                raise Conflict(f"channel {channel_id} is used by {users} chrono(s); delete or move them first")
            await session.delete(channel)

    async def refresh(self, channel_id: str) -> Channel:
        """Ask the provider for the channel's status now and store it."""
        channel = await self.get(channel_id)
        async with client_for(channel, self.settings) as client:
            status = await client.status()
        async with self.db.session() as session:
            channel = await get_or_404(session, Channel, channel_id, "channel")
            channel.status = status.value
            channel.updated_at = utcnow()
        return channel

    # --- sessions ------------------------------------------------------------------------------
    async def session_client(self, provider: ProviderKind, name: str) -> WhatsAppProvider:
        """A client for session ``name``: with the first matching channel's base URL and key, else the global ones."""
        check_session_name(name, "name")
        async with self.db.session() as session:
            channels = await channels_for_session(session, provider, name)
        if channels:
            return client_for(channels[0], self.settings)
        return session_client(provider, name, self.settings)

    async def sync_session(self, provider: ProviderKind, name: str, status: ChannelStatus) -> builtins.list[Channel]:
        """Store a session's status on its channels; returns them."""
        async with self.db.session() as session:
            return await set_session_status(session, provider, name, status)

    async def adopt_session(self, provider: ProviderKind, info: SessionInfo, channel_name: str) -> builtins.list[Channel]:
        """Store a new session's status on its channels, creating ``channel_name`` when none uses it."""
        async with self.db.session() as session:
            channels = await set_session_status(session, provider, info.name, info.status)
            if not channels:
                channel = Channel(name=channel_name, provider=provider.value,
                                  config={SESSION_KEYS[provider]: info.name}, status=info.status.value)
                session.add(channel)
                await session.flush()
                channels = [channel]
        return channels

    # --- rules ---------------------------------------------------------------------------------
    def _validated(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Channel attributes from camelCase fields; InvalidInput naming the first wrong one."""
        name = checked_name(fields.get("name"))
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
        provider_for_channel(kind, stored, self.settings, api_key=api_key)  # the client builds: no network
        return {"name": name, "provider": kind.value, "config": stored, "api_key": api_key}

    def _moves(self, old: Channel, new: dict[str, Any]) -> bool:
        """Whether ``new`` sends the channel's requests (and its key) to another provider or server."""
        def server(provider: str, config: dict[str, Any]) -> str:
            default = (self.settings.waha_base_url if provider == ProviderKind.WAHA.value
                       else self.settings.evolution_base_url)
            return str(config.get("baseUrl") or default)
        return old.provider != new["provider"] or not same_server(
            server(old.provider, old.config), server(new["provider"], new["config"]))

    async def _probe_status(self, values: dict[str, Any]) -> ChannelStatus | None:
        """The session's status, asked once; None when the provider cannot tell right now."""
        try:
            async with client_for(Channel(**values), self.settings, STATUS_PROBE) as client:
                return await client.status()
        except ProviderError as exc:
            log.info("status of new channel %r unknown: %s", values["name"], exc)
            return None
