"""How a received provider webhook is recorded: what identifies it, and what is blanked first.

Gateways deliver a webhook again when they are unsure it arrived, and a captured one can be posted
again by anyone who saw it. :func:`waha_event_key` and :func:`evolution_event_key` name what makes
an event unique (a message's id, else WAHA's event id), so the route stores and applies it once.
:func:`redact_secrets` blanks the credentials some gateways put in their bodies (Evolution sends
the instance's ``apikey``) before an event is stored, so neither the database nor
``GET /inbound-events`` holds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_EVENT_KEY_LENGTH", "REDACTED", "evolution_event_key", "redact_secrets", "waha_event_key"]

MAX_EVENT_KEY_LENGTH = 255
"""Width of ``inbound_events.event_key``; a longer key is stored as its SHA-256."""


def _key(session: str, kind: str, ident: object) -> str | None:
    if not isinstance(ident, str) or not ident:
        return None
    key = f"{session}|{kind}:{ident}"
    if len(key) > MAX_EVENT_KEY_LENGTH:
        key = f"{kind}:sha256:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"
    return key


def waha_event_key(body: Mapping[str, Any]) -> str | None:
    """What identifies a WAHA webhook: the message id of a message event, else WAHA's event id.

    ``message`` and ``message.any`` announce the same message with two event ids; keyed by the
    message, the second is a duplicate. ``None`` when the body carries no id at all.
    """
    session = _text(body.get("session"))
    payload = body.get("payload")
    if _text(body.get("event")) in ("message", "message.any") and isinstance(payload, Mapping):
        message_key = _key(session, "message", payload.get("id"))
        if message_key is not None:
            return message_key
    return _key(session, "event", body.get("id"))


def evolution_event_key(body: Mapping[str, Any]) -> str | None:
    """What identifies an Evolution webhook: the message id of ``messages.upsert``.

    Evolution API gives its other events no id; those are not deduplicated (a status event
    applied twice leaves the same status).
    """
    event = _text(body.get("event")).lower().replace("_", ".")
    data = body.get("data")
    if event != "messages.upsert" or not isinstance(data, Mapping):
        return None
    message: object = data
    if isinstance(data.get("messages"), list):
        message = data["messages"][0] if data["messages"] else {}
    key = message.get("key") if isinstance(message, Mapping) else None
    session = _text(body.get("instance")) or _text(data.get("instance"))
    return _key(session, "message", key.get("id")) if isinstance(key, Mapping) else None


SECRET_WORDS = ("apikey", "api_key", "token", "secret", "password", "hmac")
"""A payload key containing one of these (any case) holds a credential and is blanked."""

REDACTED = "***"
"""What a blanked credential reads as."""


def redact_secrets(value: Any, _depth: int = 0) -> Any:
    """``value`` with every credential-named entry's value replaced by :data:`REDACTED`.

    Applied to provider events before they are stored, so neither the database nor
    ``GET /inbound-events`` ever holds a gateway's key. Nesting deeper than 64 levels is cut.
    """
    if _depth > 64:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            key: (REDACTED if value_ is not None and _is_secret_name(key) else redact_secrets(value_, _depth + 1))
            for key, value_ in value.items()
        }
    if isinstance(value, list):
        return [redact_secrets(item, _depth + 1) for item in value]
    return value


def _is_secret_name(key: object) -> bool:
    lowered = str(key).lower().replace("-", "_")
    return any(word in lowered for word in SECRET_WORDS)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
