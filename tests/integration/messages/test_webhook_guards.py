"""Webhooks closed without their secret, replays acknowledged but not applied, confirmations rate-limited."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete

from chronoflow.channels import opt_out_confirmation, sign_waha_body
from chronoflow.channels.optout_store import CONFIRMATION_INTERVAL_MINUTES
from chronoflow.devtools.fake_whatsapp.events import evolution_webhook, waha_webhook
from chronoflow.store.models import OptOut, OptOutConfirmation
from tests.integration.messages.conftest import ANA_DIGITS, BRUNO_DIGITS, HMAC_KEY, WhatsAppStack

SUFFIX = {"WAHA": "@c.us", "EVOLUTION": "@s.whatsapp.net"}


def inbound(provider: str, digits: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    """The webhook body of a person writing ``text`` to session ``default``."""
    ident = message_id or uuid.uuid4().hex[:20].upper()
    jid = digits + SUFFIX[provider]
    if provider == "WAHA":
        return waha_webhook("default", "message", {"id": f"false_{jid}_{ident}", "from": jid, "fromMe": False,
                                                   "body": text})
    return evolution_webhook("default", "messages.upsert",
                             {"key": {"remoteJid": jid, "fromMe": False, "id": ident},
                              "message": {"conversation": text}},
                             destination="", server_url="http://127.0.0.1", apikey="INSTANCE-TOKEN-1")


def status_event(provider: str, status: str) -> dict[str, Any]:
    if provider == "WAHA":
        return waha_webhook("default", "session.status", {"name": "default", "status": status})
    return evolution_webhook("default", "connection.update", {"instance": "default", "state": status},
                             destination="", server_url="http://127.0.0.1")


def confirmations(wa: WhatsAppStack, digits: str) -> int:
    return sum(1 for m in wa.fake.messages() if m["to"] == digits)


def test_a_route_without_its_secret_refuses_everything(wa: WhatsAppStack, provider: str) -> None:
    """It answers 503 "webhook secret not configured" to signed and unsigned events alike, and changes nothing."""
    channel = wa.create_channel(provider)
    closed = "waha_webhook_hmac_key" if provider == "WAHA" else "evolution_webhook_secret"
    other = wa.start_api(**{closed: ""})
    before = wa.counts()
    stop = status_event(provider, "STOPPED" if provider == "WAHA" else "close")
    signed = wa.post_webhook(provider, stop, base_url=other.url)
    pare = wa.post_webhook(provider, inbound(provider, ANA_DIGITS, "PARE"), base_url=other.url)
    path = "/waha/webhooks" if provider == "WAHA" else "/evolution/webhooks"
    unsigned = httpx.post(other.url + path, json=stop, timeout=10)
    for response in (signed, pare, unsigned):
        assert response.status_code == 503, response.text
        assert "webhook secret not configured" in response.json()["detail"]
    assert wa.counts() == before
    assert wa.channel_status(channel["id"]) == "WORKING" and wa.fake.messages() == []

    # Only that provider's route is closed: the other one still works on the same server.
    open_provider = "EVOLUTION" if provider == "WAHA" else "WAHA"
    response = wa.post_webhook(open_provider, status_event(open_provider, "FAILED" if open_provider == "WAHA"
                                                          else "refused"), base_url=other.url)
    assert response.status_code == 200, response.text


def test_a_bad_signature_stores_nothing_even_for_a_huge_nesting(wa: WhatsAppStack) -> None:
    """It refuses an unsigned body before reading it as JSON, and names the body when a signed one is unusable."""
    deep = ("[" * 5000 + "]" * 5000).encode()
    before = wa.counts()
    assert httpx.post(wa.live.url + "/waha/webhooks", content=deep, timeout=10).status_code == 401
    for raw, words in ((deep, "nested deeper"), (b"\xff\xfe", "not JSON"), (b"[1, 2]", "JSON object")):
        response = httpx.post(wa.live.url + "/waha/webhooks", content=raw,
                              headers={"X-Webhook-Hmac": sign_waha_body(raw, HMAC_KEY)}, timeout=10)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "body" and words in response.json()["detail"]
    assert wa.counts() == before


def test_a_replayed_opt_out_is_acknowledged_and_applied_once(wa: WhatsAppStack, provider: str) -> None:
    """It answers 200 to a delivery seen before, stores it once and confirms the opt-out once."""
    wa.create_channel(provider)
    body = inbound(provider, ANA_DIGITS, "PARE")
    first = wa.post_webhook(provider, body)
    assert first.status_code == 200 and first.json()["duplicate"] is False, first.text
    assert first.json()["action"] == "opted out"
    wa.stack.wait_until(lambda: confirmations(wa, ANA_DIGITS) == 1, timeout=10)
    counts = wa.counts()
    again = wa.post_webhook(provider, body)
    assert again.status_code == 200, again.text
    assert again.json() == {"received": True, "duplicate": True, "eventId": first.json()["eventId"],
                            "action": "duplicate"}
    assert wa.counts() == counts and len(wa.opt_outs()) == 1
    # A later, different message from someone else still goes through and is confirmed.
    assert wa.post_webhook(provider, inbound(provider, BRUNO_DIGITS, "PARE")).json()["action"] == "opted out"
    wa.stack.wait_until(lambda: confirmations(wa, BRUNO_DIGITS) == 1, timeout=10)
    assert confirmations(wa, ANA_DIGITS) == 1


def test_a_replayed_status_event_does_not_undo_a_newer_one(wa: WhatsAppStack) -> None:
    """It keeps the newest status when an old, validly signed WAHA event is posted again."""
    channel = wa.create_channel("WAHA")
    failed = status_event("WAHA", "FAILED")
    assert wa.post_webhook("WAHA", failed).json()["action"] == "status FAILED"
    assert wa.post_webhook("WAHA", status_event("WAHA", "WORKING")).json()["action"] == "status WORKING"
    replay = wa.post_webhook("WAHA", failed)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert wa.channel_status(channel["id"]) == "WORKING"
    assert len(wa.events()) == 2


def test_message_and_message_any_of_one_text_count_once(wa: WhatsAppStack) -> None:
    """It treats WAHA's two announcements of one inbound message (two event ids) as one event."""
    wa.create_channel("WAHA")
    body = inbound("WAHA", ANA_DIGITS, "PARE")
    assert wa.post_webhook("WAHA", body).json()["duplicate"] is False
    twin = {**body, "id": f"evt_{uuid.uuid4().hex}", "event": "message.any"}
    assert wa.post_webhook("WAHA", twin).json()["duplicate"] is True
    assert len(wa.events()) == 1


def test_concurrent_deliveries_of_one_event_store_it_once(wa: WhatsAppStack, provider: str) -> None:
    """It stores and applies one of several simultaneous deliveries of the same event; all get a 2xx."""
    wa.create_channel(provider)
    body = inbound(provider, ANA_DIGITS, "PARE")
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def deliver() -> None:
        response = wa.post_webhook(provider, body)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True, True, True]
    assert len({a.json()["eventId"] for a in answers}) == 1
    assert len(wa.events()) == 1 and len(wa.opt_outs()) == 1
    wa.stack.wait_until(lambda: confirmations(wa, ANA_DIGITS) == 1, timeout=10)


def test_opt_out_confirmations_are_rate_limited_per_number(wa: WhatsAppStack, provider: str) -> None:
    """It confirms a number at most once per interval, even when its opt-out is recorded again."""
    wa.create_channel(provider)
    assert wa.post_webhook(provider, inbound(provider, ANA_DIGITS, "PARE")).json()["action"] == "opted out"
    wa.stack.wait_until(lambda: confirmations(wa, ANA_DIGITS) == 1, timeout=10)
    assert wa.fake.messages()[0]["text"] == opt_out_confirmation("pt-BR")

    def forget_opt_out() -> None:  # as an operator re-subscribing the number would
        async def run() -> None:
            async with wa.stack.db.session() as session:
                await session.execute(delete(OptOut).where(OptOut.number == ANA_DIGITS))
        wa.stack.db_run(run())

    forget_opt_out()
    again = wa.post_webhook(provider, inbound(provider, ANA_DIGITS, "Pare"))
    assert again.json()["action"] == "opted out (confirmed recently, not again)"
    assert [o.number for o in wa.opt_outs()] == [ANA_DIGITS]

    async def age_confirmation() -> None:
        async with wa.stack.db.session() as session:
            confirmation = await session.get(OptOutConfirmation, ANA_DIGITS)
            assert confirmation is not None
            confirmation.sent_at -= timedelta(minutes=CONFIRMATION_INTERVAL_MINUTES + 1)
    wa.stack.db_run(age_confirmation())
    forget_opt_out()
    assert wa.post_webhook(provider, inbound(provider, ANA_DIGITS, "STOP")).json()["action"] == "opted out"
    wa.stack.wait_until(lambda: confirmations(wa, ANA_DIGITS) == 2, timeout=10)
    assert wa.fake.messages()[-1]["text"] == opt_out_confirmation("en")


def test_a_stored_replay_through_the_api_is_rate_limited_too(wa: WhatsAppStack) -> None:
    """It does not confirm again when an operator replays a stored opt-out after the number was forgotten."""
    wa.create_channel("WAHA")
    event_id = wa.post_webhook("WAHA", inbound("WAHA", ANA_DIGITS, "PARE")).json()["eventId"]
    wa.stack.wait_until(lambda: confirmations(wa, ANA_DIGITS) == 1, timeout=10)

    async def forget() -> None:
        async with wa.stack.db.session() as session:
            await session.execute(delete(OptOut))
    wa.stack.db_run(forget())
    replayed = wa.api.post(f"/inbound-events/{event_id}/replay")
    assert replayed.json()["action"] == "opted out (confirmed recently, not again)"
    assert len(wa.opt_outs()) == 1 and confirmations(wa, ANA_DIGITS) == 1


def test_stored_events_hold_no_gateway_key(wa: WhatsAppStack) -> None:
    """It blanks the instance key Evolution puts in every webhook, in the database and in /inbound-events."""
    wa.create_channel("EVOLUTION")
    token = wa.fake.state.session("evolution", "default").token  # type: ignore[union-attr]
    (delivery,) = wa.inbound("EVOLUTION", ANA_DIGITS, "olá")["webhooks"]
    assert delivery["status"] == 200 and token in delivery["body"]
    (event,) = wa.events()
    assert event.payload["apikey"] == "***" and token not in json.dumps(event.payload)
    listed = wa.api.get("/inbound-events")
    assert token not in listed.text and listed.json()["items"][0]["payload"]["apikey"] == "***"
