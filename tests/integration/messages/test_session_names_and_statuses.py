"""Path-unsafe session names are refused; newer and unknown gateway statuses are stored, not rejected."""

from __future__ import annotations

import pytest

from tests.integration.messages.conftest import WhatsAppStack

SESSIONS = {"WAHA": "/waha/sessions", "EVOLUTION": "/evolution/instances"}
SESSION_KEY = {"WAHA": "session", "EVOLUTION": "instance"}
UNSAFE = ["/", ".", "..", "", "a/b", "../default", "minha loja", " default", "tab\there", "nul\x00"]


@pytest.mark.parametrize("name", UNSAFE, ids=repr)
def test_path_unsafe_names_are_refused_everywhere(wa: WhatsAppStack, provider: str, name: str) -> None:
    """It answers 422 naming the field on channel and session creation, and nothing reaches the gateway."""
    key = SESSION_KEY[provider]
    before, requests = wa.counts(), len(wa.fake.requests())
    channel = wa.api.post("/channels", json={"name": "c", "provider": provider, "config": {key: name}})
    assert channel.status_code == 422, channel.text
    assert channel.json()["field"] == f"config.{key}"
    session = wa.api.post(SESSIONS[provider], json={"name": name})
    assert session.status_code == 422, session.text
    assert session.json()["field"] == "name"
    assert wa.counts() == before and len(wa.fake.requests()) == requests


def test_an_existing_channel_cannot_be_renamed_to_an_unsafe_session(wa: WhatsAppStack, provider: str) -> None:
    """It refuses the PATCH and keeps the channel."""
    channel = wa.create_channel(provider)
    response = wa.api.patch(f"/channels/{channel['id']}", json={"config": {SESSION_KEY[provider]: ".."}})
    assert response.status_code == 422 and response.json()["field"] == f"config.{SESSION_KEY[provider]}"
    assert wa.api.get(f"/channels/{channel['id']}").json() == channel


def test_session_routes_refuse_an_unsafe_name_in_the_path(wa: WhatsAppStack, provider: str) -> None:
    """It refuses a name that decodes to whitespace before calling the gateway."""
    requests = len(wa.fake.requests())
    for action in ("", "/start", "/auth/qr"):
        method = wa.api.post if action == "/start" else wa.api.get
        response = method(f"{SESSIONS[provider]}/minha%20loja{action}")
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "name"
    assert len(wa.fake.requests()) == requests


@pytest.mark.parametrize("status", ["PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED"])
def test_waha_passkey_statuses_are_stored(wa: WhatsAppStack, status: str) -> None:
    """It stores WAHA's passkey statuses on the channel (both fit the column), and lists the session."""
    channel = wa.create_channel("WAHA")
    (delivery,) = wa.fake_control("status", provider="waha", session="default", status=status)["webhooks"]
    assert delivery["status"] == 200, delivery
    assert wa.channel_status(channel["id"]) == status
    listed = wa.api.get("/waha/sessions")
    assert listed.status_code == 200, listed.text
    assert {"name": "default", "status": status, "channelIds": [channel["id"]], "providerStatus": status} in \
        listed.json()["items"]


def test_an_unknown_status_is_stored_and_does_not_break_the_list(wa: WhatsAppStack, provider: str) -> None:
    """It stores a status it does not know as UNKNOWN, by webhook and by listing, beside the normal sessions."""
    channel = wa.create_channel(provider)
    created = wa.api.post(SESSIONS[provider], json={"name": "other"})
    assert created.status_code == 201, created.text
    wa.fake_control("connect", provider=provider.lower(), session="other")
    (other_id,) = created.json()["channelIds"]
    word = "DANCING" if provider == "WAHA" else "dancing"
    (delivery,) = wa.fake_control("status", provider=provider.lower(), session="default",
                                  providerStatus=word)["webhooks"][:1]
    assert delivery["status"] == 200, delivery
    assert wa.channel_status(channel["id"]) == "UNKNOWN"
    (event,) = [e for e in wa.events() if e.event in ("session.status", "connection.update")][-1:]
    assert word in str(event.payload)

    wa.api.post(f"/channels/{channel['id']}/refresh")  # back to what the gateway says
    listed = wa.api.get(SESSIONS[provider])
    assert listed.status_code == 200, listed.text
    items = {item["name"]: item for item in listed.json()["items"]}
    assert items["default"]["status"] == "UNKNOWN" and items["default"]["providerStatus"] == word
    assert items["other"]["status"] == "WORKING"
    assert wa.channel_status(channel["id"]) == "UNKNOWN" and wa.channel_status(other_id) == "WORKING"
