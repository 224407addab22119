"""The provider client of a channel that can send now: what every send (a run, a function) starts with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chronoflow.channels.base import ChannelStatus, WhatsAppProvider
from chronoflow.channels.errors import ChannelNotConnected
from chronoflow.channels.factory import provider_for_channel

if TYPE_CHECKING:
    import httpx

    from chronoflow.config import Settings
    from chronoflow.store.models import Channel

__all__ = ["connected_provider"]


def connected_provider(channel: Channel, settings: Settings, *, client: httpx.AsyncClient | None) -> WhatsAppProvider:
    """The client for ``channel``, once its status says it can send.

    Args:
        channel: the stored channel.
        settings: provider defaults (base URLs, keys, retry policy).
        client: a shared ``httpx.AsyncClient``.

    Returns:
        An unopened client; close it with ``aclose()`` or ``async with``.

    Raises:
        ChannelNotConnected: the channel is not ``WORKING``.
        InvalidInput: its provider or config is unusable.
    """
    if channel.status != ChannelStatus.WORKING:
        raise ChannelNotConnected(channel.name, channel.status)
    return provider_for_channel(channel.provider, channel.config, settings, api_key=channel.api_key, client=client)
