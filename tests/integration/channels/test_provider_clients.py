"""Both provider clients against the fake gateway over HTTP: sends, sessions, retries, errors."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from chronoflow.channels import ChannelStatus, ProviderError, RetryPolicy, WhatsAppProvider
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp

ClientFactory = Callable[..., WhatsAppProvider]

pytestmark = pytest.mark.anyio

NUMBER = "5511987654321"


async def test_send_arrives(fake: FakeWhatsApp, make_client: ClientFactory, provider: str) -> None:
    """It delivers the text to the right person in the provider's addressing, and returns its id."""
    client = make_client(provider, fake.url)
    sent = await client.send_text(NUMBER, "Olá Ana, sua fatura vence hoje")

    [message] = httpx.get(f"{fake.url}/_fake/messages").json()["items"]
    assert message["provider"] == provider
    assert message["session"] == "default"
    assert message["to"] == NUMBER
    assert message["text"] == "Olá Ana, sua fatura vence hoje"
    if provider == "waha":
        assert message["chatId"] == f"{NUMBER}@c.us"
        assert sent.id == f"true_{NUMBER}@c.us_{message['id']}"
    else:
        assert message["number"] == NUMBER
        assert sent.id == message["id"]
        assert sent.raw["key"]["remoteJid"] == f"{NUMBER}@s.whatsapp.net"


async def test_a_chat_lists_what_was_sent_newest_first(fake: FakeWhatsApp, make_client: ClientFactory,
                                                       provider: str) -> None:
    """It reads a person's chat (WAHA chats/{chatId}/messages, Evolution findMessages) with the ids the sends
    answered, newest first, up to the limit, and nothing of another person's chat."""
    client = make_client(provider, fake.url)
    first = await client.send_text(NUMBER, "um")
    second = await client.send_text(NUMBER, "dois")
    await client.send_text("5521998765432", "outro")
    history = await client.recent_messages(NUMBER, 5)
    assert [(m.id, m.from_me, m.text) for m in history] == [(second.id, True, "dois"), (first.id, True, "um")]
    assert [m.text for m in await client.recent_messages(NUMBER, 1)] == ["dois"]


async def test_send_refuses_unnormalized_numbers(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It refuses a number that was not normalized first, before any request."""
    with pytest.raises(ValueError, match="digits only"):
        await make_client(provider, fake.url).send_text("+55 11 98765-4321", "x")
    assert fake.requests() == []


async def test_a_wrong_api_key_is_final(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It reports 401 as a non-retryable error, after one attempt."""
    client = make_client(provider, fake.url, api_key="wrong")
    with pytest.raises(ProviderError) as caught:
        await client.status()
    assert (caught.value.http_status, caught.value.retryable, caught.value.attempts) == (401, False, 1)
    assert len(fake.requests()) == 1


async def test_a_500_is_retried_with_backoff(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str, delays: list[float]
) -> None:
    """It retries a 5xx to a call that changes nothing, with doubling delays."""
    fake.fail(500, times=2)
    assert await make_client(provider, fake.url).status() is ChannelStatus.WORKING
    assert [a["status"] for a in fake.requests()] == [500, 500, 200]
    assert delays == [0.5, 1.0]


async def test_a_send_answered_500_is_not_repeated(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str, send_path: str, delays: list[float]
) -> None:
    """It does not resend after a 5xx: the gateway may have handed the message to WhatsApp before failing,
    so the error says the message may have been delivered and is not retryable."""
    fake.fail(500, times=2, processed=True)
    with pytest.raises(ProviderError) as caught:
        await make_client(provider, fake.url).send_text(NUMBER, "oi")
    error = caught.value
    assert (error.http_status, error.retryable, error.maybe_delivered, error.attempts) == (500, False, True, 1)
    assert "not repeated" in str(error)
    assert len(fake.requests(send_path)) == 1 and len(fake.messages()) == 1
    assert delays == []


async def test_retries_run_out(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It gives up after max_retries and raises a retryable error naming provider, call and status."""
    fake.fail(503, times=10)
    with pytest.raises(ProviderError) as caught:
        await make_client(provider, fake.url).status()
    error = caught.value
    assert (error.provider, error.call, error.http_status, error.retryable, error.attempts) == (
        provider,
        "status",
        503,
        True,
        3,
    )
    assert error.maybe_delivered is False
    assert str(error).startswith(f"{provider} status: HTTP 503: ")
    assert str(error).endswith("(after 3 attempts)")
    assert len(fake.requests()) == 3


async def test_a_400_is_not_retried(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str, delays: list[float]
) -> None:
    """It does not retry a 4xx: the same request would fail the same way."""
    fake.fail(400, times=5)
    with pytest.raises(ProviderError) as caught:
        await make_client(provider, fake.url).send_text(NUMBER, "oi")
    assert (caught.value.http_status, caught.value.retryable, caught.value.attempts) == (400, False, 1)
    assert len(fake.requests()) == 1
    assert delays == []


async def test_connection_refused_is_retried_then_reported(
    closed_port: int, make_client: ClientFactory, provider: str, delays: list[float]
) -> None:
    """It retries a refused connection, then reports which provider and call could not connect."""
    client = make_client(provider, f"http://127.0.0.1:{closed_port}")
    with pytest.raises(ProviderError) as caught:
        await client.send_text(NUMBER, "oi")
    error = caught.value
    assert (error.provider, error.call, error.http_status, error.retryable, error.attempts) == (
        provider,
        "send_text",
        None,
        True,
        3,
    )
    assert error.maybe_delivered is False  # the request never left: nothing can have arrived
    assert str(error).startswith(f"{provider} send_text: ConnectError")
    assert str(error).endswith("(after 3 attempts)")
    assert delays == [0.5, 1.0]


async def test_a_send_that_timed_out_is_not_repeated(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str, send_path: str
) -> None:
    """It does not resend after a read timeout: the first request may have been delivered."""
    fake.fail(None, delay=0.6, times=1)
    client = make_client(provider, fake.url, policy=RetryPolicy(max_retries=2, backoff_s=0, timeout_s=0.2))
    with pytest.raises(ProviderError) as caught:
        await client.send_text(NUMBER, "oi")
    assert (caught.value.retryable, caught.value.maybe_delivered) == (False, True)
    assert "not repeated" in str(caught.value)
    assert len(fake.requests(send_path)) == 1


async def test_a_status_read_that_timed_out_is_retried(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It retries an idempotent call after a timeout."""
    fake.fail(None, delay=0.6, times=1)
    client = make_client(provider, fake.url, policy=RetryPolicy(max_retries=2, backoff_s=0, timeout_s=0.2))
    assert await client.status() is ChannelStatus.WORKING
    assert len(fake.requests()) == 2


async def test_sending_through_a_disconnected_session_fails_for_good(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It reports the gateway's refusal to send through a session that is not WORKING, without retrying."""
    httpx.post(f"{fake.url}/_fake/disconnect", json={"session": "default", "provider": provider})
    client = make_client(provider, fake.url)
    assert await client.status() is ChannelStatus.STOPPED
    with pytest.raises(ProviderError) as caught:
        await client.send_text(NUMBER, "oi")
    assert caught.value.retryable is False
    assert caught.value.http_status is not None and 400 <= caught.value.http_status < 500
    assert fake.messages() == []


async def test_pairing_cycle(fake: FakeWhatsApp, make_client: ClientFactory, provider: str) -> None:
    """It logs out, gets a QR to scan, and sees the session WORKING once the phone scans it."""
    client = make_client(provider, fake.url)
    assert await client.status() is ChannelStatus.WORKING
    await client.logout()
    if provider == "evolution":
        assert await client.status() is ChannelStatus.STOPPED
        assert await client.start() is ChannelStatus.SCAN_QR_CODE
    else:
        assert await client.status() is ChannelStatus.SCAN_QR_CODE
    qr = await client.qr()
    assert qr.mimetype == "image/png"
    assert qr.content.startswith(b"\x89PNG\r\n\x1a\n")

    httpx.post(f"{fake.url}/_fake/connect", json={"session": "default", "provider": provider})
    assert await client.status() is ChannelStatus.WORKING


async def test_restart_keeps_a_paired_session_working(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It restarts a working session, which comes back WORKING without a new QR."""
    client = make_client(provider, fake.url)
    assert await client.restart() is ChannelStatus.WORKING
    assert await client.status() is ChannelStatus.WORKING


async def test_list_and_create_sessions(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It lists sessions, creates one waiting for a QR, and lists it too."""
    client = make_client(provider, fake.url)
    assert [(s.name, s.status) for s in await client.list_sessions()] == [("default", ChannelStatus.WORKING)]

    created = await client.create_session("vendas")
    assert created.name == "vendas"
    assert created.status is ChannelStatus.SCAN_QR_CODE

    names = sorted(s.name for s in await client.list_sessions())
    assert names == ["default", "vendas"]


async def test_creating_an_existing_session_is_refused(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It surfaces the gateway's refusal to create a duplicate as a final 4xx."""
    with pytest.raises(ProviderError) as caught:
        await make_client(provider, fake.url).create_session("default")
    assert caught.value.retryable is False
    assert "already" in str(caught.value)


async def test_unknown_session(fake: FakeWhatsApp, make_client: ClientFactory, provider: str) -> None:
    """It reports a session the gateway does not know as a 404."""
    with pytest.raises(ProviderError) as caught:
        await make_client(provider, fake.url, session="nope").status()
    assert caught.value.http_status == 404
    assert caught.value.call == "status"


def test_the_fake_requires_its_key(fake: FakeWhatsApp) -> None:
    """It answers 401 to provider routes without the key and lets the right key through."""
    assert httpx.get(f"{fake.url}/api/sessions").status_code == 401
    key = fake.state.config.api_key or ""
    assert httpx.get(f"{fake.url}/api/sessions", headers={"X-Api-Key": key}).status_code == 200
    assert httpx.get(f"{fake.url}/instance/fetchInstances").status_code == 401
    assert httpx.get(f"{fake.url}/instance/fetchInstances", headers={"apikey": key}).status_code == 200
