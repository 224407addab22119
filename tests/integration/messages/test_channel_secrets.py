"""Channel API keys: never returned, refused when unsendable, never sent to a server they are not for."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.messages.conftest import API_KEY, EVOLUTION_SECRET, HMAC_KEY, WhatsAppStack

SESSIONS = {"WAHA": "/waha/sessions", "EVOLUTION": "/evolution/instances"}
SESSION_KEY = {"WAHA": "session", "EVOLUTION": "instance"}
OWN_KEY = "own-channel-key-7f3a"


def test_no_route_returns_a_channel_key(wa: WhatsAppStack, provider: str) -> None:
    """It never shows a per-channel key (top level or in config) on channel or session routes."""
    base = SESSIONS[provider]
    key = SESSION_KEY[provider]
    top = wa.api.post("/channels", json={"name": "a", "provider": provider, "config": {key: "default"},
                                         "apiKey": API_KEY})
    nested = wa.api.post("/channels", json={"name": "b", "provider": provider,
                                            "config": {key: "default", "apiKey": API_KEY}})
    texts = [top.text, nested.text]
    assert top.status_code == nested.status_code == 201, texts
    for created in (top.json(), nested.json()):
        assert created["hasApiKey"] is True and "apiKey" not in created["config"]
        channel_id = created["id"]
        texts += [wa.api.get(f"/channels/{channel_id}").text,
                  wa.api.post(f"/channels/{channel_id}/refresh").text,
                  wa.api.patch(f"/channels/{channel_id}", json={"name": "renamed"}).text]
    texts += [wa.api.get("/channels").text, wa.api.get(base).text, wa.api.get(f"{base}/default").text,
              wa.api.post(f"{base}/default/restart").text, wa.api.post(base, json={"name": "nova"}).text]
    for text in texts:
        for secret in (API_KEY, HMAC_KEY, EVOLUTION_SECRET):
            assert secret not in text


BAD_KEYS = [
    pytest.param({"apiKey": "xÙ"}, "apiKey", id="non-ascii"),
    pytest.param({"apiKey": "chave\nnova"}, "apiKey", id="newline"),
    pytest.param({"apiKey": "key\x00"}, "apiKey", id="nul"),
    pytest.param({"config": {"apiKey": "🔑"}}, "config.apiKey", id="emoji-in-config"),
]


@pytest.mark.parametrize(("change", "field"), BAD_KEYS)
def test_an_unsendable_key_is_refused_on_create_and_update(
    wa: WhatsAppStack, provider: str, change: dict[str, Any], field: str
) -> None:
    """It answers 422 naming the key's field, stores nothing new, and keeps the channel's key as it was."""
    key = SESSION_KEY[provider]
    before = wa.counts()
    config = {key: "default", **change.get("config", {})}
    body = {"name": "c", "provider": provider, **change, "config": config}
    response = wa.api.post("/channels", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert wa.counts() == before

    channel = wa.create_channel(provider, apiKey=API_KEY)
    patch_body = {**change, "config": config} if "config" in change else change
    response = wa.api.patch(f"/channels/{channel['id']}", json=patch_body)
    assert response.status_code == 422 and response.json()["field"] == field, response.text
    assert wa.api.get(f"/channels/{channel['id']}").json() == channel
    # The stored key still works: a MESSAGE run through the channel is not broken by the refused PATCH.
    assert wa.api.post(f"/channels/{channel['id']}/refresh").json()["status"] == "WORKING"


def test_moving_a_channel_needs_its_key_again(wa: WhatsAppStack, provider: str, http_receiver: Any) -> None:
    """It refuses a new baseUrl or provider without apiKey (422 naming apiKey) and accepts it with one or null."""
    key = SESSION_KEY[provider]
    channel = wa.create_channel(provider, apiKey=API_KEY)
    elsewhere = {key: "default", "baseUrl": http_receiver.url}
    other = "EVOLUTION" if provider == "WAHA" else "WAHA"
    for change in ({"config": elsewhere},
                   {"provider": other, "config": {SESSION_KEY[other]: "default"}}):
        response = wa.api.patch(f"/channels/{channel['id']}", json=change)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "apiKey" and "again" in response.json()["detail"]
        assert wa.api.get(f"/channels/{channel['id']}").json() == channel
    moved = wa.api.patch(f"/channels/{channel['id']}", json={"config": elsewhere, "apiKey": "for-elsewhere"})
    assert moved.status_code == 200 and moved.json()["hasApiKey"] is True, moved.text
    back = wa.api.patch(f"/channels/{channel['id']}", json={"config": {key: "default"}, "apiKey": None})
    assert back.status_code == 200 and back.json()["hasApiKey"] is False, back.text
    # A change that keeps the server needs no key.
    assert wa.api.patch(f"/channels/{channel['id']}", json={"name": "x"}).status_code == 200
    assert wa.api.patch(f"/channels/{channel['id']}",
                        json={"config": {key: "default", "baseUrl": wa.fake.url + "/"}}).status_code == 200


def test_the_global_key_is_sent_only_to_the_global_server(
    wa: WhatsAppStack, provider: str, http_receiver: Any
) -> None:
    """It sends no key to a channel's own server unless the channel has its own; the global one stays home."""
    key = SESSION_KEY[provider]
    header = "x-api-key" if provider == "WAHA" else "apikey"
    wa.create_channel(provider, config={key: "default", "baseUrl": http_receiver.url})
    wa.create_channel(provider, session="own", config={key: "own", "baseUrl": http_receiver.url},
                      apiKey=OWN_KEY)
    probes = http_receiver.wait_for(2)
    assert [request.headers.get(header) for request in probes] == [None, OWN_KEY]
    # The global server spelled out (trailing slash) still gets the global key: the fake, which
    # requires it, reports the session WORKING instead of refusing the probe with a 401.
    same = wa.create_channel(provider, config={key: "default", "baseUrl": wa.fake.url + "/"})
    assert same["status"] == "WORKING"


def test_session_webhooks_point_at_the_public_base_url(wa: WhatsAppStack, provider: str) -> None:
    """It hands the gateway this server's PUBLIC_BASE_URL and secret, whatever Host the client sent."""
    base = SESSIONS[provider]
    created = wa.api.post(base, json={"name": "loja"}, headers={"Host": "attacker.example:666"})
    assert created.status_code == 201, created.text
    session = wa.fake.state.session(provider.lower(), "loja")
    assert session is not None
    assert session.webhook_url == wa.webhook_url(provider)
    assert session.webhook_secret == (HMAC_KEY if provider == "WAHA" else EVOLUTION_SECRET)

    elsewhere = wa.api.post(base, json={"name": "outra", "webhookUrl": "http://127.0.0.1:9/hook"})
    assert elsewhere.status_code == 201, elsewhere.text
    other = wa.fake.state.session(provider.lower(), "outra")
    assert other is not None and other.webhook_url == "http://127.0.0.1:9/hook" and other.webhook_secret is None
    refused = wa.api.post(base, json={"name": "mais", "webhookUrl": "http://[::1/"})
    assert refused.status_code == 422 and refused.json()["field"] == "webhookUrl"
