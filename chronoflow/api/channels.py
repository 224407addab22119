"""``/channels``: CRUD of WhatsApp channels, over :class:`~chronoflow.channels.service.ChannelService`.

A channel is one WAHA session or one Evolution API instance (the rules are the service's). A
per-channel ``apiKey`` is never returned: responses only say ``hasApiKey``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, delete, get, patch, post
from litestar.status_codes import HTTP_204_NO_CONTENT
from msgspec import UNSET, Struct, UnsetType

from chronoflow.api.openapi import errors
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import ApiKey, Body, ChannelConfig, Name, Page, ProviderName, ProviderQuery
from chronoflow.channels.service import ChannelService
from chronoflow.store.models import Channel


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


class ChannelController(Controller):
    path = "/channels"
    tags = ["channels"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", summary="Create a channel (a WAHA session or an Evolution instance)",
          responses=errors(400, 401, 413, 422))
    async def create(self, data: ChannelCreate, channels: ChannelService) -> ChannelOut:
        return ChannelOut.of(await channels.create(data.fields()))

    @get("/", summary="List channels", responses=errors(400, 401))
    async def list_channels(
        self, channels: ChannelService, skip: Skip = 0, take: Take = 50,
        provider: ProviderQuery = None,
    ) -> Page[ChannelOut]:
        rows, total = await channels.list(skip, take, provider)
        return Page(items=[ChannelOut.of(c) for c in rows], total=total, skip=skip, take=take)

    @get("/{channel_id:str}", summary="Read a channel", responses=errors(400, 401, 404))
    async def read(self, channel_id: str, channels: ChannelService) -> ChannelOut:
        return ChannelOut.of(await channels.get(channel_id))

    @patch("/{channel_id:str}", summary="Update a channel's name, provider, config or API key",
           responses=errors(400, 401, 404, 413, 422))
    async def update(self, channel_id: str, data: ChannelUpdate, channels: ChannelService) -> ChannelOut:
        return ChannelOut.of(await channels.update(channel_id, data.fields()))

    @delete("/{channel_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a channel no chrono uses",
            responses=errors(400, 401, 404, 409))
    async def remove(self, channel_id: str, channels: ChannelService) -> None:
        await channels.delete(channel_id)

    @post("/{channel_id:str}/refresh", status_code=200, summary="Ask the provider for the status now",
          responses=errors(400, 401, 404, 409, 422, 502))
    async def refresh(self, channel_id: str, channels: ChannelService) -> ChannelOut:
        return ChannelOut.of(await channels.refresh(channel_id))


__all__ = ["ChannelController", "ChannelOut"]
