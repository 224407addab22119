"""What identifies a provider webhook against replays, and which of its values are blanked."""

from __future__ import annotations

from typing import Any

import pytest

from chronoflow.channels import evolution_event_key, redact_secrets, waha_event_key
from chronoflow.channels.records import MAX_EVENT_KEY_LENGTH, REDACTED


def waha(event: str, payload: dict[str, Any], event_id: str | None = "evt_1", session: str = "default") -> dict[str, Any]:
    body: dict[str, Any] = {"event": event, "session": session, "payload": payload}
    if event_id is not None:
        body["id"] = event_id
    return body


def evo(event: str, data: dict[str, Any], instance: str = "vendas") -> dict[str, Any]:
    return {"event": event, "instance": instance, "data": data, "apikey": "INSTANCE-TOKEN"}


def test_waha_messages_are_keyed_by_message_id() -> None:
    """It keys message and message.any by the message, so the two announcements of one text match."""
    first = waha("message", {"id": "false_55@c.us_AAA", "body": "PARE"}, event_id="evt_1")
    second = waha("message.any", {"id": "false_55@c.us_AAA", "body": "PARE"}, event_id="evt_2")
    assert waha_event_key(first) == waha_event_key(second) == "default|message:false_55@c.us_AAA"
    other = waha("message", {"id": "false_55@c.us_BBB", "body": "PARE"}, event_id="evt_1")
    assert waha_event_key(other) != waha_event_key(first)


def test_waha_other_events_are_keyed_by_event_id() -> None:
    """It keys status events by WAHA's event id, and gives no key when there is none."""
    assert waha_event_key(waha("session.status", {"status": "FAILED"}, "evt_9")) == "default|event:evt_9"
    assert waha_event_key(waha("message", {"body": "x"}, "evt_3")) == "default|event:evt_3"
    assert waha_event_key(waha("session.status", {"status": "FAILED"}, None)) is None
    assert waha_event_key({"event": 3, "id": 4}) is None


def test_the_session_is_part_of_the_key() -> None:
    """It tells apart the same id arriving for two sessions."""
    assert waha_event_key(waha("message", {"id": "m"}, session="a")) != waha_event_key(
        waha("message", {"id": "m"}, session="b"))


def test_evolution_upserts_are_keyed_by_message_id() -> None:
    """It keys messages.upsert (any spelling, v1 batches too) by the message id; other events get none."""
    data = {"key": {"remoteJid": "5511987654321@s.whatsapp.net", "id": "3EB0AA"}}
    assert evolution_event_key(evo("messages.upsert", data)) == "vendas|message:3EB0AA"
    assert evolution_event_key(evo("MESSAGES_UPSERT", data)) == "vendas|message:3EB0AA"
    assert evolution_event_key(evo("messages.upsert", {"messages": [data]})) == "vendas|message:3EB0AA"
    assert evolution_event_key(evo("connection.update", {"state": "open"})) is None
    assert evolution_event_key(evo("messages.upsert", {"message": {}})) is None


def test_a_long_key_is_hashed_to_fit_its_column() -> None:
    """It stores an over-long key as a fixed-length hash that still tells ids apart."""
    one = waha_event_key(waha("message", {"id": "m" * 400}))
    two = waha_event_key(waha("message", {"id": "n" * 400}))
    assert one is not None and two is not None and one != two
    assert len(one) <= MAX_EVENT_KEY_LENGTH and one.startswith("message:sha256:")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"apikey": "T", "instance": "v"}, {"apikey": REDACTED, "instance": "v"}),
        ({"data": {"X-Api-Key": "k", "Authorization-Token": "t"}},
         {"data": {"X-Api-Key": REDACTED, "Authorization-Token": REDACTED}}),
        ({"webhooks": [{"hmac": {"key": "s"}, "url": "u"}]}, {"webhooks": [{"hmac": REDACTED, "url": "u"}]}),
        ({"password": None, "secret": "", "body": "PARE"}, {"password": None, "secret": REDACTED, "body": "PARE"}),
        ([1, "two", {"token": 3}], [1, "two", {"token": REDACTED}]),
    ],
    ids=["evolution-apikey", "header-like-names", "nested-hmac", "none-kept", "list"],
)
def test_credentials_are_blanked(payload: Any, expected: Any) -> None:
    """It replaces values under credential-like names, at any depth, and leaves the rest as received."""
    assert redact_secrets(payload) == expected


def test_redaction_leaves_the_input_untouched() -> None:
    """It returns a copy, so the parsers still see the body as received."""
    body = {"apikey": "T", "data": {"token": "x"}}
    redact_secrets(body)
    assert body == {"apikey": "T", "data": {"token": "x"}}
