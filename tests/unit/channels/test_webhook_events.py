"""Webhook authentication and the parsers that turn provider payloads into ChronoFlow events."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from chronoflow.channels import (
    ChannelStatus,
    InboundMessage,
    ProviderKind,
    QrEvent,
    Receipt,
    ReceiptEvent,
    StatusEvent,
    WebhookPayloadError,
    parse_evolution_event,
    parse_waha_event,
    sign_waha_body,
    verify_evolution_secret,
    verify_waha_hmac,
)

KEY = "hmac-key"
BODY = b'{"event":"session.status","session":"default","payload":{"name":"default","status":"WORKING"}}'
GOOD = hmac.new(KEY.encode(), BODY, hashlib.sha512).hexdigest()


def test_signature_is_hex_hmac_sha512() -> None:
    """It signs exactly like WAHA: hex HMAC-SHA512 of the raw body."""
    assert sign_waha_body(BODY, KEY) == GOOD
    assert len(GOOD) == 128


HMAC_CASES = [
    ("valid", BODY, GOOD, KEY, True),
    ("upper-case hex", BODY, GOOD.upper(), KEY, True),
    ("surrounding spaces", BODY, f" {GOOD} ", KEY, True),
    ("tampered body", BODY.replace(b"WORKING", b"STOPPED"), GOOD, KEY, False),
    ("re-serialized body", BODY.replace(b",", b", "), GOOD, KEY, False),
    ("wrong key", BODY, GOOD, "other-key", False),
    ("missing header", BODY, None, KEY, False),
    ("empty header", BODY, "", KEY, False),
    ("truncated", BODY, GOOD[:-2], KEY, False),
    ("sha256 instead", BODY, hmac.new(KEY.encode(), BODY, hashlib.sha256).hexdigest(), KEY, False),
    ("non-ascii header", BODY, "é" * 128, KEY, False),
    ("no key configured", BODY, GOOD, "", False),
]


@pytest.mark.parametrize(
    ("body", "header", "key", "expected"), [c[1:] for c in HMAC_CASES], ids=[c[0] for c in HMAC_CASES]
)
def test_waha_hmac(body: bytes, header: str | None, key: str, expected: bool) -> None:
    """It accepts only the exact signature of the exact bytes under the configured key."""
    assert verify_waha_hmac(body, header, key) is expected


SECRET_CASES = [
    ("header", "s3cret", None, "s3cret", True),
    ("query", None, "s3cret", "s3cret", True),
    ("both, header wrong", "nope", "s3cret", "s3cret", True),
    ("wrong", "nope", "nope", "s3cret", False),
    ("absent", None, None, "s3cret", False),
    ("empty header", "", None, "s3cret", False),
    ("prefix only", "s3cre", None, "s3cret", False),
    ("no secret configured", "", "", "", False),
    ("unicode secret", "sênha", None, "sênha", True),
]


@pytest.mark.parametrize(
    ("header", "query", "secret", "expected"), [c[1:] for c in SECRET_CASES], ids=[c[0] for c in SECRET_CASES]
)
def test_evolution_secret(header: str | None, query: str | None, secret: str, expected: bool) -> None:
    """It accepts the shared secret from the header or the query string, nothing else."""
    assert verify_evolution_secret(header, query, secret) is expected


def waha(event: str, payload: dict[str, Any], session: str = "default") -> dict[str, Any]:
    return {
        "id": "evt_1",
        "timestamp": 1700000000000,
        "event": event,
        "session": session,
        "engine": "WEBJS",
        "payload": payload,
    }


WAHA_CASES = [
    (
        "status working",
        waha("session.status", {"name": "default", "status": "WORKING"}),
        StatusEvent(ProviderKind.WAHA, "default", ChannelStatus.WORKING),
    ),
    (
        "status qr",
        waha("session.status", {"name": "vendas", "status": "SCAN_QR_CODE"}, "vendas"),
        StatusEvent(ProviderKind.WAHA, "vendas", ChannelStatus.SCAN_QR_CODE),
    ),
    (
        "status name only in payload",
        {"event": "session.status", "payload": {"name": "x", "status": "FAILED"}},
        StatusEvent(ProviderKind.WAHA, "x", ChannelStatus.FAILED),
    ),
    (
        "passkey required",
        waha("session.status", {"name": "default", "status": "PASSKEY_REQUIRED"}),
        StatusEvent(ProviderKind.WAHA, "default", ChannelStatus.PASSKEY_REQUIRED),
    ),
    (
        "passkey confirmation required",
        waha("session.status", {"name": "default", "status": "PASSKEY_CONFIRMATION_REQUIRED"}),
        StatusEvent(ProviderKind.WAHA, "default", ChannelStatus.PASSKEY_CONFIRMATION_REQUIRED),
    ),
    (
        "unknown status",
        waha("session.status", {"name": "default", "status": "SLEEPING"}),
        StatusEvent(ProviderKind.WAHA, "default", ChannelStatus.UNKNOWN),
    ),
    (
        "inbound text",
        waha(
            "message",
            {
                "id": "false_551187654321@c.us_AAA",
                "from": "551187654321@c.us",
                "fromMe": False,
                "body": "PARE",
            },
        ),
        InboundMessage(ProviderKind.WAHA, "default", "5511987654321", "PARE", "false_551187654321@c.us_AAA"),
    ),
    (
        "inbound lid with alternate",
        waha(
            "message",
            {
                "id": "m",
                "from": "123456789012345@lid",
                "fromMe": False,
                "body": "oi",
                "_data": {"key": {"remoteJidAlt": "5521987654321@s.whatsapp.net"}},
            },
        ),
        InboundMessage(ProviderKind.WAHA, "default", "5521987654321", "oi", "m"),
    ),
    (
        "inbound media without body",
        waha("message", {"id": "m", "from": "5511987654321@c.us", "fromMe": False, "hasMedia": True}),
        InboundMessage(ProviderKind.WAHA, "default", "5511987654321", "", "m"),
    ),
    (
        "our own message",
        waha("message.any", {"id": "m", "from": "5511987654321@c.us", "fromMe": True, "body": "x"}),
        None,
    ),
    (
        "group message",
        waha("message", {"id": "m", "from": "120363025246125486@g.us", "fromMe": False, "body": "PARE"}),
        None,
    ),
    (
        "lid without number",
        waha("message", {"id": "m", "from": "123456789012345@lid", "fromMe": False, "body": "x"}),
        InboundMessage(ProviderKind.WAHA, "default", "", "x", "m", lid="123456789012345@lid"),
    ),
    ("read ack", waha("message.ack", {"id": "m", "ack": 3}),
     ReceiptEvent(ProviderKind.WAHA, "default", "m", Receipt.READ)),
    ("device ack", waha("message.ack", {"id": "m", "fromMe": True, "ack": 2, "ackName": "DEVICE"}),
     ReceiptEvent(ProviderKind.WAHA, "default", "m", Receipt.DELIVERED)),
    ("played ack", waha("message.ack", {"id": "m", "ack": 4}),
     ReceiptEvent(ProviderKind.WAHA, "default", "m", Receipt.READ)),
    ("server ack", waha("message.ack", {"id": "m", "ack": 1}), None),
    ("ack of their message", waha("message.ack", {"id": "m", "fromMe": False, "ack": 3}), None),
    ("unknown event", {"event": "presence.update"}, None),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in WAHA_CASES], ids=[c[0] for c in WAHA_CASES])
def test_waha_events(body: dict[str, Any], expected: object) -> None:
    """It turns WAHA payloads into status changes and inbound texts, and ignores the rest."""
    assert parse_waha_event(body) == expected


WAHA_BAD = [
    ("status without payload", {"event": "session.status", "session": "default"}),
    ("status without status", waha("session.status", {"name": "default"})),
    ("status not a string", waha("session.status", {"name": "default", "status": 3})),
    ("status without session", {"event": "session.status", "payload": {"status": "WORKING"}}),
    ("message without session", {"event": "message", "payload": {"from": "5511987654321@c.us", "body": "x"}}),
]


@pytest.mark.parametrize("body", [c[1] for c in WAHA_BAD], ids=[c[0] for c in WAHA_BAD])
def test_waha_bad_payloads(body: dict[str, Any]) -> None:
    """It raises WebhookPayloadError for a handled event that lacks its fields."""
    with pytest.raises(WebhookPayloadError):
        parse_waha_event(body)


PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def evo(event: str, data: dict[str, Any], instance: str = "vendas") -> dict[str, Any]:
    return {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": "http://x",
        "date_time": "2024-01-01",
        "sender": "5511999999999@s.whatsapp.net",
        "server_url": "http://evo",
        "apikey": None,
    }


def upsert(jid: str, message: dict[str, Any], from_me: bool = False, **key: Any) -> dict[str, Any]:
    return evo(
        "messages.upsert",
        {
            "key": {"remoteJid": jid, "fromMe": from_me, "id": "3EB0AA", **key},
            "pushName": "Ana",
            "message": message,
            "messageType": "conversation",
        },
    )


EVOLUTION_CASES = [
    (
        "open",
        evo("connection.update", {"instance": "vendas", "state": "open", "statusReason": 200}),
        StatusEvent(ProviderKind.EVOLUTION, "vendas", ChannelStatus.WORKING),
    ),
    (
        "connecting",
        evo("connection.update", {"state": "connecting"}),
        StatusEvent(ProviderKind.EVOLUTION, "vendas", ChannelStatus.STARTING),
    ),
    (
        "close",
        evo("connection.update", {"state": "close"}),
        StatusEvent(ProviderKind.EVOLUTION, "vendas", ChannelStatus.STOPPED),
    ),
    (
        "refused",
        evo("connection.update", {"state": "refused"}),
        StatusEvent(ProviderKind.EVOLUTION, "vendas", ChannelStatus.FAILED),
    ),
    (
        "unknown state",
        evo("connection.update", {"state": "sleeping"}),
        StatusEvent(ProviderKind.EVOLUTION, "vendas", ChannelStatus.UNKNOWN),
    ),
    (
        "upper-case event name",
        evo("CONNECTION_UPDATE", {"state": "open"}),
        StatusEvent(ProviderKind.EVOLUTION, "vendas", ChannelStatus.WORKING),
    ),
    (
        "conversation",
        upsert("553187654321@s.whatsapp.net", {"conversation": "Sair"}),
        InboundMessage(ProviderKind.EVOLUTION, "vendas", "5531987654321", "Sair", "3EB0AA"),
    ),
    (
        "extended text",
        upsert("5511987654321@s.whatsapp.net", {"extendedTextMessage": {"text": "stop"}}),
        InboundMessage(ProviderKind.EVOLUTION, "vendas", "5511987654321", "stop", "3EB0AA"),
    ),
    (
        "image caption",
        upsert("5511987654321@s.whatsapp.net", {"imageMessage": {"caption": "olha"}}),
        InboundMessage(ProviderKind.EVOLUTION, "vendas", "5511987654321", "olha", "3EB0AA"),
    ),
    (
        "lid with senderPn",
        upsert("99999@lid", {"conversation": "x"}, senderPn="5511987654321@s.whatsapp.net"),
        InboundMessage(ProviderKind.EVOLUTION, "vendas", "5511987654321", "x", "3EB0AA"),
    ),
    ("from me", upsert("5511987654321@s.whatsapp.net", {"conversation": "x"}, from_me=True), None),
    ("group", upsert("120363025246125486@g.us", {"conversation": "PARE"}), None),
    (
        "qr",
        evo(
            "qrcode.updated",
            {
                "qrcode": {
                    "instance": "vendas",
                    "pairingCode": None,
                    "code": "2@abc",
                    "base64": f"data:image/png;base64,{PNG_B64}",
                }
            },
        ),
        QrEvent(ProviderKind.EVOLUTION, "vendas", None, "2@abc"),
    ),  # qr compared below
    (
        "qr limit reached",
        evo("qrcode.updated", {"message": "QR code limit reached", "statusCode": 500}),
        None,
    ),
    ("other event", evo("presence.update", {"id": "x"}), None),
    (
        "delivery ack (v2)",
        evo("messages.update", {"messageId": "db1", "keyId": "3EB0AA", "remoteJid": "5511987654321@s.whatsapp.net",
                                "fromMe": True, "status": "DELIVERY_ACK"}),
        ReceiptEvent(ProviderKind.EVOLUTION, "vendas", "3EB0AA", Receipt.DELIVERED),
    ),
    (
        "read (v1 key, numeric status)",
        evo("messages.update", {"key": {"id": "3EB0AA", "fromMe": True}, "status": 4}),
        ReceiptEvent(ProviderKind.EVOLUTION, "vendas", "3EB0AA", Receipt.READ),
    ),
    ("server ack", evo("messages.update", {"keyId": "3EB0AA", "fromMe": True, "status": "SERVER_ACK"}), None),
]


@pytest.mark.parametrize(
    ("body", "expected"), [c[1:] for c in EVOLUTION_CASES], ids=[c[0] for c in EVOLUTION_CASES]
)
def test_evolution_events(body: dict[str, Any], expected: object) -> None:
    """It turns Evolution payloads into status changes, inbound texts and QR codes."""
    event = parse_evolution_event(body)
    if isinstance(expected, QrEvent):
        assert isinstance(event, QrEvent)
        assert (event.provider, event.session, event.code) == (
            expected.provider,
            expected.session,
            expected.code,
        )
        assert event.qr is not None and event.qr.mimetype == "image/png"
        assert event.qr.content == b"\x89PNG\r\n\x1a\nfake"
    else:
        assert event == expected


EVOLUTION_BAD = [
    ("no data", {"event": "connection.update", "instance": "x"}),
    ("no instance", {"event": "connection.update", "data": {"state": "open"}}),
    ("no state", evo("connection.update", {"instance": "vendas"})),
    ("upsert without key", evo("messages.upsert", {"message": {"conversation": "x"}})),
    ("qr not base64", evo("qrcode.updated", {"qrcode": {"base64": "data:image/png;base64,@@@"}})),
]


@pytest.mark.parametrize("body", [c[1] for c in EVOLUTION_BAD], ids=[c[0] for c in EVOLUTION_BAD])
def test_evolution_bad_payloads(body: dict[str, Any]) -> None:
    """It raises WebhookPayloadError for a handled event that lacks its fields."""
    with pytest.raises(WebhookPayloadError):
        parse_evolution_event(body)


def test_inbound_message_knows_opt_outs() -> None:
    """It exposes the opt-out check on the event, so the route needs one line."""
    assert InboundMessage(ProviderKind.WAHA, "s", "5511987654321", " Pare! ").is_opt_out
    assert not InboundMessage(ProviderKind.WAHA, "s", "5511987654321", "olá").is_opt_out


@pytest.mark.parametrize(
    ("body", "word"),
    [
        (waha("session.status", {"name": "default", "status": "SLEEPING"}), "SLEEPING"),
        (evo("connection.update", {"state": "sleeping"}), "sleeping"),
    ],
    ids=["waha", "evolution"],
)
def test_an_unknown_status_keeps_the_gateways_word(body: dict[str, Any], word: str) -> None:
    """It reads a status it does not know as UNKNOWN and keeps the provider's own word for the record."""
    parse = parse_waha_event if "session" in body else parse_evolution_event
    event = parse(body)
    assert isinstance(event, StatusEvent)
    assert (event.status, event.provider_status) == (ChannelStatus.UNKNOWN, word)
