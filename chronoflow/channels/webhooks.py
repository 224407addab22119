"""Provider webhooks: authenticate them, and turn their payloads into a few small events.

WAHA signs each webhook: ``X-Webhook-Hmac`` is the hex HMAC-SHA512 of the raw body under the
session's HMAC key. Evolution API signs nothing, so ChronoFlow gives each instance a shared secret
that comes back in the ``X-Webhook-Secret`` header (set as a webhook header when the instance is
created) or, for gateways configured by hand, a ``?secret=`` query parameter.

The parsers read only what ChronoFlow acts on and return:

- :class:`StatusEvent` — the session changed state (→ ``Channel.status``);
- :class:`InboundMessage` — a person wrote to us (→ opt-out check);
- :class:`QrEvent` — a new pairing QR code (Evolution API pushes them; WAHA must be asked);
- :class:`ReceiptEvent` — one of our messages was delivered or read (→ the campaign row);
- ``None`` — an event we do not act on (server acks, our own messages, groups, presence…), which the
  route may still store as received.

Payload shapes: WAHA ``{id, event, session, payload}`` (``session.status`` payload ``{name, status}``,
``message`` payload ``{id, from, fromMe, body}``); Evolution ``{event, instance, data, apikey}``
(``connection.update`` data ``{instance, state}``, ``messages.upsert`` data
``{key: {remoteJid, fromMe, id}, message: {conversation}}``, ``qrcode.updated`` data
``{qrcode: {base64, code}}``, ``messages.update`` data ``{keyId, remoteJid, fromMe, status}``); WAHA
``message.ack`` payload ``{id, fromMe, ack, ackName}``.

How a received event is recorded (its identity against replays, its secrets blanked) is in
:mod:`chronoflow.channels.records`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chronoflow.channels.base import ChannelStatus, ProviderKind, QrCode
from chronoflow.channels.errors import InvalidPhoneNumber, WebhookPayloadError
from chronoflow.channels.evolution import SECRET_HEADER, evolution_status, evolution_text
from chronoflow.channels.optout_keywords import is_opt_out
from chronoflow.channels.phone import normalize_number
from chronoflow.channels.waha import waha_status

__all__ = [
    "EVOLUTION_SECRET_HEADER",
    "EVOLUTION_SECRET_QUERY",
    "WAHA_HMAC_HEADER",
    "ChannelEvent",
    "InboundMessage",
    "QrEvent",
    "ReceiptEvent",
    "StatusEvent",
    "parse_evolution_event",
    "parse_waha_event",
    "sign_waha_body",
    "verify_evolution_secret",
    "verify_waha_hmac",
]

logger = logging.getLogger(__name__)

WAHA_HMAC_HEADER = "X-Webhook-Hmac"
"""WAHA's signature header: hex HMAC-SHA512 of the raw body."""

EVOLUTION_SECRET_HEADER = SECRET_HEADER
"""Header with the Evolution shared secret."""

EVOLUTION_SECRET_QUERY = "secret"
"""Query parameter accepted instead of the header."""


@dataclass(frozen=True)
class StatusEvent:
    """A session/instance changed state.

    Attributes:
        provider_status: the gateway's own word, kept for the record when ``status`` is UNKNOWN.
    """

    provider: ProviderKind
    session: str
    status: ChannelStatus
    provider_status: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class InboundMessage:
    """A text a person sent to one of our sessions.

    Attributes:
        from_digits: the sender, normalized like every recipient
            (:func:`~chronoflow.channels.phone.normalize_number`), so it matches contact records.
        text: the message body; empty for media without a caption.
        message_id: the provider's id, to drop a webhook delivered twice.
    """

    provider: ProviderKind
    session: str
    from_digits: str
    text: str
    message_id: str | None = None
    lid: str | None = None
    """The sender's ``…@lid`` id when the gateway hid the number (``from_digits`` then empty until resolved)."""

    @property
    def is_opt_out(self) -> bool:
        """Whether this message asks to stop receiving messages (see :mod:`.optout`)."""
        return is_opt_out(self.text)


@dataclass(frozen=True)
class QrEvent:
    """A new pairing QR code for a session.

    Attributes:
        qr: the image, when the provider sent one.
        code: the raw pairing string behind the image, when sent.
    """

    provider: ProviderKind
    session: str
    qr: QrCode | None
    code: str | None = None


class Receipt(StrEnum):
    """How far one of our messages got, in the order it gets there."""

    DELIVERED = "delivered"
    READ = "read"


@dataclass(frozen=True)
class ReceiptEvent:
    """One of our messages reached the person's phone, or was read (played, for audio).

    Attributes:
        message_id: the provider's id of the message, as its send answered it.
        receipt: how far it got.
    """

    provider: ProviderKind
    session: str
    message_id: str
    receipt: Receipt


WAHA_ACKS = {2: Receipt.DELIVERED, 3: Receipt.READ, 4: Receipt.READ}
"""WAHA ``ack`` values that move a message on: 2 DEVICE (delivered), 3 READ, 4 PLAYED; -1 ERROR,
0 PENDING and 1 SERVER say nothing about the person."""

EVOLUTION_ACKS = {"DELIVERY_ACK": Receipt.DELIVERED, "READ": Receipt.READ, "PLAYED": Receipt.READ,
                  3: Receipt.DELIVERED, 4: Receipt.READ, 5: Receipt.READ}
"""Evolution ``messages.update`` statuses (Baileys' names, or their numbers) that move a message on."""


ChannelEvent = StatusEvent | InboundMessage | QrEvent | ReceiptEvent
"""What a parser returns for an event ChronoFlow acts on."""


def sign_waha_body(raw_body: bytes, key: str) -> str:
    """The ``X-Webhook-Hmac`` value WAHA sends for a body: hex HMAC-SHA512 under ``key``."""
    return hmac.new(key.encode("utf-8"), raw_body, hashlib.sha512).hexdigest()


def verify_waha_hmac(raw_body: bytes, header_value: str | None, key: str) -> bool:
    """Check WAHA's signature of a webhook, in constant time.

    Args:
        raw_body: the request body exactly as received (not re-serialized JSON).
        header_value: the ``X-Webhook-Hmac`` header, or ``None`` when absent.
        key: ``WAHA_WEBHOOK_HMAC_KEY``. An empty key verifies nothing and returns ``False``;
            whether an unsigned webhook is acceptable is the route's decision, not this one's.

    Returns:
        ``True`` only for the exact signature (hex, any case).
    """
    if not key or not header_value:
        return False
    candidate = header_value.strip().lower()
    if not candidate.isascii():
        return False
    return hmac.compare_digest(candidate.encode("ascii"), sign_waha_body(raw_body, key).encode("ascii"))


def verify_evolution_secret(header_value: str | None, query_value: str | None, secret: str) -> bool:
    """Check the shared secret of an Evolution webhook, in constant time.

    Args:
        header_value: the ``X-Webhook-Secret`` header, or ``None``.
        query_value: the ``secret`` query parameter, or ``None``.
        secret: ``EVOLUTION_WEBHOOK_SECRET``; empty verifies nothing and returns ``False``.

    Returns:
        ``True`` when the header or the query parameter equals the secret.
    """
    if not secret:
        return False
    expected = secret.encode("utf-8")
    return any(
        value is not None and hmac.compare_digest(value.encode("utf-8"), expected)
        for value in (header_value, query_value)
    )


def parse_waha_event(body: Mapping[str, Any]) -> ChannelEvent | None:
    """Read a decoded WAHA webhook.

    Args:
        body: the JSON object WAHA posted.

    Returns:
        A :class:`StatusEvent` for ``session.status``, an :class:`InboundMessage` for an incoming
        ``message``/``message.any`` from a person, else ``None``.

    Raises:
        WebhookPayloadError: a handled event lacks its fields (an unknown status is UNKNOWN, not an error).
    """
    event = _text(body.get("event"))
    payload = body.get("payload")
    if event == "session.status":
        if not isinstance(payload, Mapping):
            raise WebhookPayloadError("WAHA session.status without a payload")
        session = _text(body.get("session")) or _text(payload.get("name"))
        if not session:
            raise WebhookPayloadError("WAHA session.status without a session name")
        raw_status = payload.get("status")
        if not isinstance(raw_status, str) or not raw_status:
            raise WebhookPayloadError("WAHA session.status without a status")
        return StatusEvent(ProviderKind.WAHA, session, waha_status(raw_status), raw_status[:64])
    if event == "message.ack":
        if not isinstance(payload, Mapping):
            raise WebhookPayloadError("WAHA message.ack without a payload")
        session, ident = _text(body.get("session")), _text(payload.get("id"))
        if not session or not ident:
            raise WebhookPayloadError("WAHA message.ack without a session name or a message id")
        ack = payload.get("ack")
        receipt = WAHA_ACKS.get(ack) if isinstance(ack, int) and not isinstance(ack, bool) else None
        if receipt is None or payload.get("fromMe") is False:
            return None
        return ReceiptEvent(ProviderKind.WAHA, session, ident, receipt)
    if event in ("message", "message.any"):
        if not isinstance(payload, Mapping):
            raise WebhookPayloadError(f"WAHA {event} without a payload")
        if payload.get("fromMe"):
            return None
        session = _text(body.get("session"))
        if not session:
            raise WebhookPayloadError(f"WAHA {event} without a session name")
        raw_data = payload.get("_data")
        data_key = raw_data.get("key") if isinstance(raw_data, Mapping) else None
        alternates = (
            [data_key.get("remoteJidAlt"), data_key.get("senderPn")] if isinstance(data_key, Mapping) else []
        )
        sender = _sender_digits(payload.get("from"), alternates)
        raw_from = _text(payload.get("from"))
        if sender is None and not raw_from.endswith("@lid"):
            return None
        return InboundMessage(
            ProviderKind.WAHA, session, sender or "", _text(payload.get("body")), _text(payload.get("id")) or None,
            lid=raw_from if sender is None else None,
        )
    return None


def parse_evolution_event(body: Mapping[str, Any]) -> ChannelEvent | None:
    """Read a decoded Evolution API webhook.

    Event names are accepted as Evolution sends them (``messages.upsert``) and in their
    configuration spelling (``MESSAGES_UPSERT``).

    Returns:
        A :class:`StatusEvent` for ``connection.update``, an :class:`InboundMessage` for
        ``messages.upsert`` from a person, a :class:`QrEvent` for ``qrcode.updated``, else ``None``.

    Raises:
        WebhookPayloadError: a handled event lacks its fields (an unknown state is UNKNOWN, not an error).
    """
    event = _text(body.get("event")).lower().replace("_", ".")
    data = body.get("data")
    if event not in ("connection.update", "messages.upsert", "qrcode.updated", "messages.update"):
        return None
    if not isinstance(data, Mapping):
        raise WebhookPayloadError(f"Evolution {event} without data")
    session = _text(body.get("instance")) or _text(data.get("instance"))
    if not session:
        raise WebhookPayloadError(f"Evolution {event} without an instance name")

    if event == "connection.update":
        state = data.get("state")
        if not isinstance(state, str) or not state:
            raise WebhookPayloadError("Evolution connection.update without a state")
        return StatusEvent(ProviderKind.EVOLUTION, session, evolution_status(state), state[:64])

    if event == "messages.update":
        return _evolution_receipt(session, data)

    if event == "qrcode.updated":
        qrcode = data.get("qrcode")
        if not isinstance(qrcode, Mapping):
            return None  # "QR code limit reached": the connection.update "refused" that follows says it
        image = _text(qrcode.get("base64"))
        try:
            qr = QrCode.from_data_url(image) if image else None
        except ValueError as exc:
            raise WebhookPayloadError(f"Evolution qrcode.updated image: {exc}") from exc
        return QrEvent(ProviderKind.EVOLUTION, session, qr, _text(qrcode.get("code")) or None)

    message = data
    if isinstance(data.get("messages"), list):  # v1 batched upserts; ChronoFlow reads the first
        message = data["messages"][0] if data["messages"] else {}
    key = message.get("key") if isinstance(message, Mapping) else None
    if not isinstance(key, Mapping):
        raise WebhookPayloadError("Evolution messages.upsert without a message key")
    if key.get("fromMe"):
        return None
    sender = _sender_digits(key.get("remoteJid"), [key.get("remoteJidAlt"), key.get("senderPn")])
    if sender is None:
        return None
    return InboundMessage(
        ProviderKind.EVOLUTION,
        session,
        sender,
        evolution_text(message.get("message")),
        _text(key.get("id")) or None,
    )


def _evolution_receipt(session: str, data: Mapping[str, Any]) -> ReceiptEvent | None:
    """A delivery receipt from ``messages.update`` data: v2 ``{keyId, status}``, v1 ``{key: {id}, status}``.

    v2's ``messageId`` is Evolution's own database id, not WhatsApp's, so it is not used.
    """
    key = data.get("key")
    ident = _text(data.get("keyId")) or (_text(key.get("id")) if isinstance(key, Mapping) else "")
    if not ident:
        raise WebhookPayloadError("Evolution messages.update without a message id (keyId)")
    from_me = data.get("fromMe", key.get("fromMe") if isinstance(key, Mapping) else None)
    status = data.get("status")
    receipt = EVOLUTION_ACKS.get(status) if isinstance(status, str | int) and not isinstance(status, bool) else None
    if receipt is None or from_me is False:
        return None
    return ReceiptEvent(ProviderKind.EVOLUTION, session, ident, receipt)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _sender_digits(jid: object, alternates: list[object]) -> str | None:
    """The sender's normalized number, or ``None`` for groups, broadcasts and unknown ids.

    Newer WhatsApp versions hide numbers behind ``@lid`` ids; gateways then add the phone-number
    id in a second field, tried in order.
    """
    for candidate in [jid, *alternates]:
        if not isinstance(candidate, str) or not candidate:
            continue
        if candidate.endswith(("@g.us", "@broadcast", "@newsletter")):
            return None  # a group or a status post is not a person talking to us
        try:
            return normalize_number(candidate)
        except InvalidPhoneNumber:
            continue
    logger.info("webhook message from %r has no phone number; ignored", jid)
    return None
