"""What only one provider does: WAHA's QR formats, Evolution's missing stop and embedded errors."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chronoflow.channels import (
    ChannelStatus,
    EvolutionClient,
    ProviderError,
    RetryPolicy,
    UnsupportedCall,
    WahaClient,
    WhatsAppProvider,
)
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp

pytestmark = pytest.mark.anyio

ClientFactory = Callable[..., WhatsAppProvider]


def png_size(data: bytes) -> tuple[int, int]:
    """Check a PNG chunk by chunk (CRCs, image data inflates to the right size); return width, height."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + payload) & 0xFFFFFFFF == crc, kind
        chunks[kind] = payload
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 0)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (width + 1)
    assert b"IEND" in chunks
    return width, height


async def logged_out_waha(fake: FakeWhatsApp, make_client: ClientFactory) -> WahaClient:
    client = make_client("waha", fake.url)
    assert isinstance(client, WahaClient)
    assert await client.logout() is ChannelStatus.SCAN_QR_CODE
    return client


async def test_waha_qr_as_json_and_png(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It gets the same valid PNG as JSON {mimetype, data} and as the image itself."""
    client = await logged_out_waha(fake, make_client)
    qr = await client.qr()
    png = await client.qr_png()
    assert qr.mimetype == "image/png"
    assert qr.content == png
    assert png_size(png) == (132, 132)


async def test_waha_qr_needs_a_session_waiting_for_a_scan(
    fake: FakeWhatsApp, make_client: ClientFactory
) -> None:
    """It reports WAHA's 422 when a working session has no QR to show."""
    with pytest.raises(ProviderError) as caught:
        await make_client("waha", fake.url).qr()
    assert (caught.value.http_status, caught.value.retryable) == (422, False)
    assert "SCAN_QR_CODE" in str(caught.value)


async def test_waha_stop_and_start(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It stops a session (pairing kept) and starts it back to WORKING."""
    client = make_client("waha", fake.url)
    assert await client.stop() is ChannelStatus.STOPPED
    assert [s.status for s in await client.list_sessions()] == [ChannelStatus.STOPPED]
    assert await client.start() is ChannelStatus.WORKING


async def test_waha_create_session_configures_webhooks(
    fake: FakeWhatsApp, make_client: ClientFactory
) -> None:
    """It asks WAHA to post status and message events, signed with the given key."""
    await make_client("waha", fake.url).create_session(
        "loja", webhook_url="http://127.0.0.1:9/hook", webhook_secret="k"
    )
    [request] = fake.requests("/api/sessions")
    assert request["body"] == {
        "name": "loja",
        "start": True,
        "config": {
            "webhooks": [
                {
                    "url": "http://127.0.0.1:9/hook",
                    "events": ["session.status", "message", "message.ack"],
                    "hmac": {"key": "k"},
                }
            ]
        },
    }


async def test_evolution_has_no_stop(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It refuses stop rather than logging the phone out behind the caller's back."""
    with pytest.raises(UnsupportedCall) as caught:
        await make_client("evolution", fake.url).stop()
    assert (caught.value.provider, caught.value.call, caught.value.retryable) == ("evolution", "stop", False)
    assert fake.requests() == []


async def test_evolution_restart_of_a_closed_instance(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It turns Evolution's 200 {error: true} answer into a ProviderError."""
    httpx.post(f"{fake.url}/_fake/disconnect", json={"session": "default", "provider": "evolution"})
    with pytest.raises(ProviderError, match="not connected") as caught:
        await make_client("evolution", fake.url).restart()
    assert caught.value.call == "restart"


async def test_evolution_qr_of_an_open_instance(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It explains that a connected instance has no QR code."""
    with pytest.raises(ProviderError, match="no QR code to scan: the instance is WORKING"):
        await make_client("evolution", fake.url).qr()


async def test_evolution_create_instance_configures_webhooks(
    fake: FakeWhatsApp, make_client: ClientFactory
) -> None:
    """It asks Evolution for the three events ChronoFlow handles, with the secret as a header."""
    created = await make_client("evolution", fake.url).create_session(
        "loja", webhook_url="http://127.0.0.1:9/hook", webhook_secret="s"
    )
    assert created.status is ChannelStatus.SCAN_QR_CODE
    [request] = fake.requests("/instance/create")
    body: dict[str, Any] = request["body"]
    assert body["instanceName"] == "loja"
    assert body["integration"] == "WHATSAPP-BAILEYS"
    assert body["webhook"]["url"] == "http://127.0.0.1:9/hook"
    assert body["webhook"]["headers"] == {"X-Webhook-Secret": "s"}
    assert body["webhook"]["events"] == ["CONNECTION_UPDATE", "MESSAGES_UPSERT", "MESSAGES_UPDATE", "QRCODE_UPDATED"]
    assert body["webhook"]["base64"] is False


async def test_evolution_create_is_never_repeated_blindly(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """A create that failed after Evolution made the instance, retried and told "already in use", is a success;
    a create that timed out is reported, not repeated."""
    fake.fail(500, times=1, path="/instance/create", processed=True)
    created = await make_client("evolution", fake.url).create_session("lenta")
    assert created.name == "lenta" and len(fake.requests("/instance/create")) == 2
    assert fake.state.session("evolution", "lenta") is not None
    fake.fail(None, times=1, path="/instance/create", delay=0.5)
    slow = RetryPolicy(max_retries=2, backoff_s=0, timeout_s=0.2)
    with pytest.raises(ProviderError, match="not repeated"):
        await make_client("evolution", fake.url, policy=slow).create_session("lenta2")
    assert len(fake.requests("/instance/create")) == 3
    with pytest.raises(ProviderError, match="already in use"):
        await make_client("evolution", fake.url).create_session("lenta")  # a real name clash is still refused


async def test_session_names_are_escaped(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It puts a session name with spaces or slashes into URLs safely."""
    for provider in ("waha", "evolution"):
        client = make_client(provider, fake.url)
        await client.create_session("loja centro/2")
        named = make_client(provider, fake.url, session="loja centro/2")
        assert await named.status() in (ChannelStatus.SCAN_QR_CODE, ChannelStatus.STARTING)


def test_clients_validate_construction() -> None:
    """It refuses a base URL without scheme and an empty session at construction."""
    with pytest.raises(ValueError, match="http"):
        WahaClient("localhost:3000", "default")
    with pytest.raises(ValueError, match="empty"):
        EvolutionClient("http://localhost:8080", "")
