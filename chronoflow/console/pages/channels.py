"""Channels: live status badges, Start / Stop / Logout / Restart, and the QR code until paired.

Actions go to the provider through the same client and status bookkeeping as the
``/waha/sessions/{name}/…`` and ``/evolution/instances/{name}/…`` routes.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Response, Template

from chronoflow.channels import ChannelStatus
from chronoflow.channels.service import ChannelService, provider_kind, session_of
from chronoflow.config import Settings
from chronoflow.console.forms import posted
from chronoflow.console.rendering import page, refused
from chronoflow.console.session import PREFIX
from chronoflow.errors import ChronoflowError
from chronoflow.store.engine import Database
from chronoflow.store.models import Channel

AnyRequest = Request[Any, Any, Any]
ACTIONS = ("start", "stop", "logout", "restart")
SHOWN = 100
"""Channels on the page: a team has a handful."""


async def _session_call(service: ChannelService, channel: Channel, call: str) -> Any:
    """Call the channel's provider session and store the status it reports on its channels."""
    kind, name = provider_kind(channel.provider), session_of(channel)
    async with await service.session_client(kind, name) as client:
        if call == "qr":
            status = await client.status()
            if status is ChannelStatus.WORKING:
                await service.sync_session(kind, name, status)
                return None
            code = await client.qr()
            await service.sync_session(kind, name, ChannelStatus.SCAN_QR_CODE)
            return code
        status = await getattr(client, call)()
    await service.sync_session(kind, name, status)
    return status


class ChannelPages(Controller):
    path = f"{PREFIX}/channels"

    @get("/")
    async def list_page(self, request: AnyRequest, db: Database, settings: Settings) -> Template:
        rows, total = await ChannelService(db, settings).list(0, SHOWN, None)
        return page(request, "channels.html", channels=rows, total=total)

    @get("/statuses")
    async def statuses(self, db: Database, settings: Settings) -> dict[str, str]:
        """Each channel's stored status, for the page's script to refresh its badges."""
        rows, _ = await ChannelService(db, settings).list(0, SHOWN, None)
        return {channel.id: channel.status for channel in rows}

    @post("/{channel_id:str}/{action:str}", status_code=303)
    async def act(self, request: AnyRequest, channel_id: str, action: str, db: Database, settings: Settings) -> Any:
        await posted(request)
        service = ChannelService(db, settings)
        channel = await service.get(channel_id)
        if action in ACTIONS:
            try:
                await _session_call(service, channel, action)
            except ChronoflowError as exc:
                rows, total = await service.list(0, SHOWN, None)
                return refused(request, "channels.html", exc, channels=rows, total=total)
        return Redirect(f"{PREFIX}/channels/", status_code=303)

    @get("/{channel_id:str}/qr")
    async def qr_page(self, request: AnyRequest, channel_id: str, db: Database, settings: Settings) -> Template:
        channel = await ChannelService(db, settings).get(channel_id)
        return page(request, "qr.html", channel=channel)

    @get("/{channel_id:str}/qr.png")
    async def qr_image(self, channel_id: str, db: Database, settings: Settings) -> Response[bytes]:
        """The current pairing code; 204 once the session is WORKING (nothing left to scan)."""
        service = ChannelService(db, settings)
        code = await _session_call(service, await service.get(channel_id), "qr")
        if code is None:
            return Response(b"", status_code=204)
        return Response(code.content, media_type=code.mimetype, headers={"Cache-Control": "no-store"})
