"""Channels CRUD and the /waha/sessions, /evolution/instances routes, kept in step with the channels."""

from __future__ import annotations

import base64

from tests.integration.messages.conftest import ANA, WhatsAppStack

SESSIONS = {"WAHA": "/waha/sessions", "EVOLUTION": "/evolution/instances"}


def test_channels_crud_never_returns_the_api_key(wa: WhatsAppStack, provider: str) -> None:
    """It creates, reads, lists, updates and deletes channels; a per-channel key is write-only."""
    key = "session" if provider == "WAHA" else "instance"
    created = wa.create_channel(provider, apiKey="wa-api-key")
    assert created["hasApiKey"] is True and "apiKey" not in created and created["config"] == {key: "default"}
    assert created["status"] == "WORKING"
    assert wa.api.get(f"/channels/{created['id']}").json() == created
    page = wa.api.get("/channels", params={"provider": provider}).json()
    assert (page["total"], page["skip"], page["take"], [c["id"] for c in page["items"]]) == (1, 0, 50, [created["id"]])
    assert "wa-api-key" not in wa.api.get("/channels").text
    updated = wa.api.patch(f"/channels/{created['id']}", json={"name": "vendas", "apiKey": None}).json()
    assert updated["name"] == "vendas" and updated["hasApiKey"] is False and updated["status"] == "WORKING"
    assert wa.api.delete(f"/channels/{created['id']}").status_code == 204
    assert wa.api.get("/channels").json()["total"] == 0


def test_a_channel_in_use_cannot_be_deleted(wa: WhatsAppStack) -> None:
    """It answers 409 while a chrono sends through the channel."""
    channel = wa.create_channel("WAHA")
    chrono = wa.create_message_chrono(channel["id"], [ANA])
    response = wa.api.delete(f"/channels/{channel['id']}")
    assert response.status_code == 409 and "1 chrono" in response.json()["detail"]
    wa.api.delete(f"/chronos/{chrono['id']}")
    assert wa.api.delete(f"/channels/{channel['id']}").status_code == 204


def test_a_wrong_api_key_leaves_the_channel_stopped_and_refresh_says_why(wa: WhatsAppStack) -> None:
    """It creates the channel even when the provider refuses its key, and /refresh reports the refusal."""
    channel = wa.create_channel("WAHA", apiKey="not-the-key")
    assert channel["status"] == "STOPPED"
    response = wa.api.post(f"/channels/{channel['id']}/refresh")
    assert response.status_code == 502 and "401" in response.json()["detail"]
    fixed = wa.api.patch(f"/channels/{channel['id']}", json={"apiKey": None}).json()
    assert fixed["hasApiKey"] is False
    assert wa.api.post(f"/channels/{channel['id']}/refresh").json()["status"] == "WORKING"


def test_session_routes_create_pair_and_drive_a_session(wa: WhatsAppStack, provider: str) -> None:
    """It creates a session and its channel, serves the QR, and keeps the channel's status in step."""
    base = SESSIONS[provider]
    created = wa.api.post(base, json={"name": "vendas", "channelName": "Vendas",
                                      "webhookUrl": wa.webhook_url(provider)})
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["name"] == "vendas" and session["status"] in ("SCAN_QR_CODE", "STARTING")
    (channel_id,) = session["channelIds"]
    channel = wa.api.get(f"/channels/{channel_id}").json()
    assert channel["name"] == "Vendas" and channel["provider"] == provider
    wa.stack.wait_until(lambda: wa.channel_status(channel_id) == "SCAN_QR_CODE", timeout=10)

    png = wa.api.get(f"{base}/vendas/auth/qr")
    assert png.status_code == 200 and png.headers["content-type"].startswith("image/png")
    assert png.content.startswith(b"\x89PNG")
    as_json = wa.api.get(f"{base}/vendas/auth/qr", headers={"Accept": "application/json"}).json()
    assert base64.b64decode(as_json["data"]).startswith(b"\x89PNG")

    wa.fake_control("connect", provider=provider.lower(), session="vendas")  # the phone scans the code
    assert wa.channel_status(channel_id) == "WORKING"
    listed = wa.api.get(base).json()
    assert {(s["name"], s["status"]) for s in listed["items"]} >= {("default", "WORKING"), ("vendas", "WORKING")}
    assert wa.api.get(f"{base}/vendas/auth/qr").status_code == 409  # nothing to scan once paired

    assert wa.api.post(f"{base}/vendas/restart").json()["status"] in ("WORKING", "STARTING")
    logout = wa.api.post(f"{base}/vendas/logout").json()
    assert logout["channelIds"] == [channel_id] and wa.channel_status(channel_id) == logout["status"]
    assert logout["status"] in ("SCAN_QR_CODE", "STARTING", "STOPPED")


def test_waha_stop_and_start(wa: WhatsAppStack) -> None:
    """It stops and starts a WAHA session and stores each status on the channel."""
    channel = wa.create_channel("WAHA")
    assert wa.api.post("/waha/sessions/default/stop").json() == {
        "name": "default", "status": "STOPPED", "channelIds": [channel["id"]]}
    assert wa.channel_status(channel["id"]) == "STOPPED"
    assert wa.api.post("/waha/sessions/default/start").json()["status"] == "WORKING"
    wa.stack.wait_until(lambda: wa.channel_status(channel["id"]) == "WORKING", timeout=10)
    assert wa.api.get("/waha/sessions/default").json()["status"] == "WORKING"


def test_provider_refusals_are_4xx(wa: WhatsAppStack) -> None:
    """It answers 409 for Evolution's missing stop and 404 for an unknown session, changing nothing."""
    channel = wa.create_channel("EVOLUTION")
    response = wa.api.post("/evolution/instances/default/stop")
    assert response.status_code == 409 and "no stop" in response.json()["detail"]
    assert wa.channel_status(channel["id"]) == "WORKING"
    assert wa.api.post("/waha/sessions/ghost/start").status_code == 404
    assert wa.api.post("/waha/sessions", json={"name": " "}).json()["field"] == "name"
    assert wa.api.get("/waha/sessions", headers={"Authorization": ""}).status_code == 401
