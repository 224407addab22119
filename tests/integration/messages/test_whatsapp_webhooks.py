"""Provider webhooks over real HTTP: status, opt-outs, authentication, raw storage."""

from __future__ import annotations

import json

import httpx

from chronoflow.channels import OPT_OUT_KEYWORDS, opt_out_confirmation, sign_waha_body
from tests.integration.messages.conftest import ANA, ANA_DIGITS, BRUNO, BRUNO_DIGITS, HMAC_KEY, WhatsAppStack

STATUS_EVENT = {"event": "session.status", "session": "default", "payload": {"name": "default", "status": "FAILED"}}


def test_a_session_status_webhook_flips_the_channel(wa: WhatsAppStack, provider: str) -> None:
    """It stores the provider's status on the channel of that session, in one vocabulary."""
    channel = wa.create_channel(provider)
    other = wa.create_channel(provider, session="other")
    assert channel["status"] == "WORKING"
    for status in ("FAILED", "STOPPED", "WORKING"):
        (delivery,) = wa.fake_control("status", provider=provider.lower(), session="default",
                                      status=status)["webhooks"][:1]
        assert delivery["status"] == 200, delivery
        assert wa.channel_status(channel["id"]) == status
    assert wa.channel_status(other["id"]) == other["status"]
    events = wa.events()
    assert [e.provider for e in events] == [provider] * len(events) and len(events) >= 3
    assert all(isinstance(e.payload, dict) and e.payload["event"] for e in events)


def test_the_waha_status_route_takes_status_events(wa: WhatsAppStack) -> None:
    """It accepts WAHA's session status at /waha/webhooks/sessions/status too."""
    channel = wa.create_channel("WAHA")
    raw = json.dumps(STATUS_EVENT).encode()
    response = httpx.post(wa.live.url + "/waha/webhooks/sessions/status", content=raw,
                          headers={"X-Webhook-Hmac": sign_waha_body(raw, HMAC_KEY)})
    assert response.status_code == 200, response.text
    assert wa.channel_status(channel["id"]) == "FAILED"


def test_a_bad_hmac_is_401_and_changes_nothing(wa: WhatsAppStack) -> None:
    """It refuses a WAHA webhook whose X-Webhook-Hmac does not match, and stores nothing."""
    channel = wa.create_channel("WAHA")
    raw = json.dumps(STATUS_EVENT).encode()
    before = wa.counts()
    for headers in ({"X-Webhook-Hmac": sign_waha_body(raw, "wrong-key")}, {"X-Webhook-Hmac": "zz"}, {}):
        response = httpx.post(wa.live.url + "/waha/webhooks", content=raw, headers=headers)
        assert response.status_code == 401, response.text
    tampered = raw.replace(b"FAILED", b"STOPPED")
    response = httpx.post(wa.live.url + "/waha/webhooks", content=tampered,
                          headers={"X-Webhook-Hmac": sign_waha_body(raw, HMAC_KEY)})
    assert response.status_code == 401
    assert wa.counts() == before and wa.channel_status(channel["id"]) == "WORKING"


def test_a_bad_evolution_secret_is_401_and_the_query_secret_works(wa: WhatsAppStack) -> None:
    """It checks the Evolution shared secret in the header or ?secret=, and stores nothing when wrong."""
    channel = wa.create_channel("EVOLUTION")
    body = {"event": "connection.update", "instance": "default", "data": {"instance": "default", "state": "close"}}
    before = wa.counts()
    url = wa.live.url + "/evolution/webhooks"
    assert httpx.post(url, json=body, headers={"X-Webhook-Secret": "wrong"}).status_code == 401
    assert httpx.post(url + "?secret=wrong", json=body).status_code == 401
    assert httpx.post(url, json=body).status_code == 401
    assert wa.counts() == before and wa.channel_status(channel["id"]) == "WORKING"
    response = httpx.post(url + "?secret=wa-evolution-secret", json=body)
    assert response.status_code == 200 and response.json()["action"] == "status STOPPED"
    assert wa.channel_status(channel["id"]) == "STOPPED"


def test_every_authenticated_event_is_stored_raw(wa: WhatsAppStack) -> None:
    """It keeps events it does not act on, and malformed ones, as received."""
    body = {"event": "presence.update", "session": "default", "payload": {"id": "x", "presences": []}}
    raw = json.dumps(body).encode()
    response = httpx.post(wa.live.url + "/waha/webhooks", content=raw,
                          headers={"X-Webhook-Hmac": sign_waha_body(raw, HMAC_KEY)})
    assert response.status_code == 200 and response.json()["action"] == "stored"
    broken = json.dumps({"event": "session.status", "session": "default", "payload": {"name": "default"}}).encode()
    response = httpx.post(wa.live.url + "/waha/webhooks", content=broken,
                          headers={"X-Webhook-Hmac": sign_waha_body(broken, HMAC_KEY)})
    assert response.status_code == 422 and "without a status" in response.json()["detail"]
    assert response.json()["field"] == "body"
    assert [(e.event, e.session, e.payload) for e in wa.events()] == [
        ("presence.update", "default", body), ("session.status", "default", json.loads(broken))]


def test_an_opt_out_stops_later_sends_and_is_confirmed_once(wa: WhatsAppStack, provider: str) -> None:
    """It marks a number that answered PARE opted out, confirms once, and never sends to it again."""
    channel = wa.create_channel(provider)
    chrono = wa.create_message_chrono(channel["id"], [ANA, BRUNO])
    (delivery,) = wa.inbound(provider, ANA, "Pare!")["webhooks"]
    assert delivery["status"] == 200, delivery
    wa.stack.wait_until(lambda: wa.fake.messages(), timeout=10)
    assert [(m["to"], m["text"]) for m in wa.fake.messages()] == [(ANA_DIGITS, opt_out_confirmation("pt-BR"))]
    (opt_out,) = wa.opt_outs()
    assert opt_out.number == ANA_DIGITS and opt_out.channel_id == channel["id"] and "Pare" in opt_out.source

    wa.fake.state.messages.clear()
    wa.inbound(provider, ANA, "PARE")  # again: already opted out, no second confirmation
    wa.inbound(provider, BRUNO, "não vou sair de casa hoje")  # not an opt-out
    wa.run_due(chrono["id"])
    assert [(m["to"], m["text"]) for m in wa.fake.messages()] == [(BRUNO_DIGITS, f"Olá {BRUNO_DIGITS}")]
    (run,) = wa.stack.runs(chrono["id"])
    assert run.status == "success"
    assert [(r["number"], r["outcome"], r["reason"]) for r in run.result["recipients"]] == [
        (ANA_DIGITS, "skipped", "opted out"), (BRUNO_DIGITS, "sent", None)]
    assert len(wa.opt_outs()) == 1
    assert [e.event for e in wa.events()].count("message" if provider == "WAHA" else "messages.upsert") == 3


def test_stop_in_english_gets_the_english_confirmation(wa: WhatsAppStack) -> None:
    """It answers STOP in English; an opt-out from a WAHA @lid sender reaches the number WAHA resolves it
    to, and one WAHA cannot resolve is stored without opting anyone out."""
    assert "stop" in OPT_OUT_KEYWORDS
    wa.create_channel("WAHA")
    wa.inbound("WAHA", ANA, "STOP")
    wa.stack.wait_until(lambda: wa.fake.messages(), timeout=10)
    assert wa.fake.messages()[0]["text"] == opt_out_confirmation("en")
    (hidden,) = wa.fake_control("inbound", provider="waha", session="default", text="PARE", lid=True,
                                **{"from": BRUNO})["webhooks"]
    assert json.loads(hidden["body"])["payload"]["from"].endswith("@lid")
    (unknown,) = wa.fake_control("inbound", provider="waha", session="default", text="PARE",
                                 **{"from": "998877665544332@lid"})["webhooks"]
    assert unknown["status"] == 200
    assert sorted(o.number for o in wa.opt_outs()) == sorted([ANA_DIGITS, BRUNO_DIGITS])
    assert [e.event for e in wa.events()].count("message") == 3


def test_stored_events_can_be_listed_and_replayed(wa: WhatsAppStack) -> None:
    """It lists stored events behind the token and acts on one again; an opt-out is not confirmed twice."""
    channel = wa.create_channel("WAHA")
    wa.fake_control("status", provider="waha", session="default", status="FAILED")
    wa.fake_control("status", provider="waha", session="default", status="WORKING")
    wa.inbound("WAHA", ANA, "PARE")
    wa.stack.wait_until(lambda: wa.fake.messages(), timeout=10)
    page = wa.api.get("/inbound-events", params={"provider": "WAHA"}).json()
    assert page["total"] == 3 and [e["event"] for e in page["items"]][-1] == "session.status"
    assert httpx.get(wa.live.url + "/inbound-events").status_code == 401
    failed = next(e for e in page["items"] if e["payload"].get("payload", {}).get("status") == "FAILED")
    assert wa.api.post(f"/inbound-events/{failed['id']}/replay").json()["action"] == "status FAILED"
    assert wa.channel_status(channel["id"]) == "FAILED"
    opt_out = next(e for e in page["items"] if e["event"] == "message")
    assert wa.api.post(f"/inbound-events/{opt_out['id']}/replay").json()["action"] == "already opted out"
    assert len(wa.fake.messages()) == 1
    assert wa.api.post("/inbound-events/nope/replay").status_code == 404
