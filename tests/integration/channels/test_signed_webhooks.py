"""The fake posts real, authenticated webhooks; ChronoFlow's verifiers and parsers accept exactly those."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chronoflow.channels import (
    ChannelStatus,
    InboundMessage,
    ProviderKind,
    QrEvent,
    StatusEvent,
    parse_evolution_event,
    parse_waha_event,
    verify_evolution_secret,
    verify_waha_hmac,
)
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp


def control(fake: FakeWhatsApp, action: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{fake.url}/_fake/{action}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_inbound_waha_message_is_signed(fake: FakeWhatsApp, http_receiver: Any) -> None:
    """It posts a WAHA message webhook whose HMAC verifies and which parses to an opt-out."""
    answer = control(fake, "inbound", session="default", **{"from": "+55 31 8765-4321"}, text="PARE")
    assert answer["webhooks"][0]["status"] == 200

    [hook] = http_receiver.wait_for(1, path="/hooks/waha")
    key = fake.state.config.hmac_key or ""
    assert hook.headers["x-webhook-hmac-algorithm"] == "sha512"
    assert verify_waha_hmac(hook.body, hook.headers["x-webhook-hmac"], key)

    event = parse_waha_event(hook.json())
    assert event == InboundMessage(ProviderKind.WAHA, "default", "5531987654321", "PARE", event.message_id)
    assert isinstance(event, InboundMessage) and event.is_opt_out


def test_a_tampered_webhook_fails_verification(fake: FakeWhatsApp, http_receiver: Any) -> None:
    """It rejects the same signature over a modified body, or under another key."""
    control(fake, "inbound", session="default", **{"from": "5511987654321"}, text="olá")
    [hook] = http_receiver.wait_for(1, path="/hooks/waha")
    signature = hook.headers["x-webhook-hmac"]
    key = fake.state.config.hmac_key or ""

    assert verify_waha_hmac(hook.body, signature, key)
    assert not verify_waha_hmac(hook.body.replace(b"5511987654321", b"5511900000000"), signature, key)
    assert not verify_waha_hmac(hook.body + b" ", signature, key)
    assert not verify_waha_hmac(hook.body, signature, "another-key")
    assert not verify_waha_hmac(hook.body, None, key)


def test_waha_status_change_webhook(fake: FakeWhatsApp, http_receiver: Any) -> None:
    """It posts session.status on disconnect and connect; both parse to the new status."""
    control(fake, "disconnect", session="default")
    control(fake, "connect", session="default")
    hooks = http_receiver.wait_for(2, path="/hooks/waha")
    key = fake.state.config.hmac_key or ""
    assert all(verify_waha_hmac(h.body, h.headers["x-webhook-hmac"], key) for h in hooks)
    assert [parse_waha_event(h.json()) for h in hooks] == [
        StatusEvent(ProviderKind.WAHA, "default", ChannelStatus.STOPPED),
        StatusEvent(ProviderKind.WAHA, "default", ChannelStatus.WORKING),
    ]


def test_evolution_inbound_carries_the_secret(fake: FakeWhatsApp, http_receiver: Any) -> None:
    """It posts messages.upsert with X-Webhook-Secret; the secret verifies and the text parses."""
    control(
        fake, "inbound", provider="evolution", session="default", **{"from": "5511987654321"}, text=" Sair. "
    )
    [hook] = http_receiver.wait_for(1, path="/hooks/evolution")
    secret = fake.state.config.evolution_secret or ""
    assert verify_evolution_secret(hook.headers.get("x-webhook-secret"), None, secret)
    assert not verify_evolution_secret(None, None, secret)

    event = parse_evolution_event(hook.json())
    assert isinstance(event, InboundMessage)
    assert (event.provider, event.session, event.from_digits, event.is_opt_out) == (
        ProviderKind.EVOLUTION,
        "default",
        "5511987654321",
        True,
    )


def test_evolution_qr_and_state_webhooks(fake: FakeWhatsApp, http_receiver: Any) -> None:
    """It posts connection.update and qrcode.updated when an instance waits for a scan."""
    control(fake, "status", provider="evolution", session="default", status="SCAN_QR_CODE")
    hooks = http_receiver.wait_for(2, path="/hooks/evolution")
    events = [parse_evolution_event(h.json()) for h in hooks]
    assert events[0] == StatusEvent(ProviderKind.EVOLUTION, "default", ChannelStatus.STARTING)
    qr_event = events[1]
    assert isinstance(qr_event, QrEvent) and qr_event.qr is not None
    assert qr_event.qr.content.startswith(b"\x89PNG")
    assert qr_event.code and qr_event.code.startswith("2@")


def test_provider_calls_post_status_webhooks_too(fake: FakeWhatsApp, http_receiver: Any) -> None:
    """It reports a status change caused by an API call (stop) by webhook, as WAHA does."""
    response = httpx.post(
        f"{fake.url}/api/sessions/default/stop", headers={"X-Api-Key": fake.state.config.api_key or ""}
    )
    assert response.json()["status"] == "STOPPED"
    [hook] = http_receiver.wait_for(1, path="/hooks/waha")
    assert parse_waha_event(hook.json()) == StatusEvent(ProviderKind.WAHA, "default", ChannelStatus.STOPPED)


def test_unsigned_without_a_key(http_receiver: Any) -> None:
    """It sends webhooks without signature or secret when none is configured."""
    with FakeWhatsApp(webhook_url=f"{http_receiver.url}/hooks") as fake:
        control(fake, "inbound", session="default", **{"from": "5511987654321"}, text="x")
        control(
            fake, "inbound", provider="evolution", session="default", **{"from": "5511987654321"}, text="x"
        )
    hooks = http_receiver.wait_for(2, path="/hooks")
    assert all("x-webhook-hmac" not in h.headers and "x-webhook-secret" not in h.headers for h in hooks)


def test_a_failed_delivery_is_recorded(fake: FakeWhatsApp, http_receiver: Any) -> None:
    """It records ChronoFlow's answer to each webhook, so a rejected one is visible."""
    http_receiver.respond("/hooks/waha", status=401, body={"error": "bad signature"})
    answer = control(fake, "inbound", session="default", **{"from": "5511987654321"}, text="x")
    assert answer["webhooks"][0]["status"] == 401
    [delivery] = httpx.get(f"{fake.url}/_fake/webhooks").json()["items"]
    assert (delivery["event"], delivery["status"]) == ("message", 401)


@pytest.mark.parametrize(
    ("provider", "hook_path"),
    [("waha", "/hooks/waha"), ("evolution", "/hooks/evolution")],
    ids=["waha", "evolution"],
)
def test_sessions_created_with_a_webhook_use_it(provider: str, hook_path: str, http_receiver: Any) -> None:
    """It posts a session's events to the webhook and secret given at creation, as the real gateways do."""
    with FakeWhatsApp() as fake:  # no global webhook: only the session's own
        if provider == "waha":
            httpx.post(
                f"{fake.url}/api/sessions",
                json={
                    "name": "loja",
                    "start": True,
                    "config": {
                        "webhooks": [
                            {
                                "url": f"{http_receiver.url}{hook_path}",
                                "events": ["session.status"],
                                "hmac": {"key": "own"},
                            }
                        ]
                    },
                },
            )
        else:
            httpx.post(
                f"{fake.url}/instance/create",
                json={
                    "instanceName": "loja",
                    "qrcode": False,
                    "webhook": {
                        "url": f"{http_receiver.url}{hook_path}",
                        "headers": {"X-Webhook-Secret": "own"},
                    },
                },
            )
        control(fake, "connect", provider=provider, session="loja")
    # WAHA: SCAN_QR_CODE on creation (posted in the background) and WORKING; Evolution: WORKING.
    hooks = http_receiver.wait_for(2 if provider == "waha" else 1, path=hook_path)
    if provider == "waha":
        assert all(verify_waha_hmac(h.body, h.headers["x-webhook-hmac"], "own") for h in hooks)
        events = [parse_waha_event(h.json()) for h in hooks]
        assert StatusEvent(ProviderKind.WAHA, "loja", ChannelStatus.WORKING) in events
    else:
        assert all(verify_evolution_secret(h.headers["x-webhook-secret"], None, "own") for h in hooks)
        events = [parse_evolution_event(h.json()) for h in hooks]
        assert events == [StatusEvent(ProviderKind.EVOLUTION, "loja", ChannelStatus.WORKING)]
