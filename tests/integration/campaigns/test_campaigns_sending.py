"""Campaigns sent end to end: the real API, worker and scheduler processes, the fake gateway over HTTP."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.campaigns.conftest import (
    assert_counters_equal_rows,
    campaign_state,
    create_campaign,
    import_contacts,
    phone,
    rows,
    wait_for_campaign,
)
from tests.integration.contacts.conftest import opt_out
from tests.integration.messages.conftest import WhatsAppStack

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_every_eligible_contact_gets_one_message_despite_a_killed_worker_and_an_opt_out(cwa: WhatsAppStack) -> None:
    """It sends once to each eligible contact across two channels; a SIGKILLed worker duplicates nothing,
    an opt-out during the campaign stops that contact's message, and no row is left sending."""
    channels = [cwa.create_channel("WAHA")["id"], cwa.create_channel("EVOLUTION")["id"]]
    count = 200
    import_contacts(cwa, [f"{phone(i)},C{i},{'a' if i % 2 else 'b'}{';x' if i % 10 == 0 else ''},ouro"
                          for i in range(count)])
    opt_out(cwa.stack, phone(3))
    campaign = create_campaign(cwa, channels, messageTemplate="Olá {{name}}", audience={
        "tags": ["a", "b"], "excludeTags": ["x"]}, delayMinSeconds=0, delayMaxSeconds=0.05)
    cid = campaign["id"]
    assert cwa.api.post(f"/campaigns/{cid}/start").json()["pending"] == count - count // 10 - 1
    worker = cwa.stack.spawn("worker")
    cwa.stack.spawn("scheduler")
    wait_for_campaign(cwa, cid, lambda c: c["sent"] >= 30)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()

    assert cwa.api.post(f"/campaigns/{cid}/pause").json()["status"] == "paused"
    late = cwa.api.get(f"/campaigns/{cid}/recipients", params={"status": "pending", "take": 1}).json()["items"][0]
    opt_out(cwa.stack, late["phone"])
    assert cwa.api.post(f"/campaigns/{cid}/resume").json()["status"] == "sending"
    cwa.stack.spawn("worker")
    done = wait_for_campaign(cwa, cid, lambda c: c["status"] == "completed")

    counted = assert_counters_equal_rows(cwa, cid)
    assert counted["sending"] == 0 and counted["pending"] == 0 and counted["uncertain"] <= 1
    by_phone = {r.phone: r for r in rows(cwa, cid)}
    delivered = Counter(m["to"] for m in cwa.fake.messages())
    assert max(delivered.values()) == 1, "a contact got two messages"
    assert {p for p, r in by_phone.items() if r.status == "sent"} <= set(delivered)
    assert set(delivered) <= {p for p, r in by_phone.items() if r.status in ("sent", "uncertain")}
    assert by_phone[late["phone"]].status == "skipped" and by_phone[late["phone"]].error == "opted out"
    assert by_phone[phone(3)].error == "opted out" and by_phone[phone(10)].error == "excluded by tag"
    assert counted["sent"] + counted["uncertain"] == count - count // 10 - 2
    assert {r.channel_id for r in by_phone.values() if r.status == "sent"} == set(channels)
    assert done["chronoId"] and cwa.stack.jobs.scheduled_due(done["chronoId"]) is None


def test_a_closed_window_sends_nothing_a_quota_stops_the_sends_and_failures_pause(cwa: WhatsAppStack) -> None:
    """It waits for the window's next opening without sending, stops at the daily quota until the next day,
    and retries refused sends up to maxAttempts, pausing after maxConsecutiveFailures."""
    channel = cwa.create_channel("WAHA")["id"]
    refusing = cwa.create_channel("EVOLUTION")["id"]
    cwa.fake.fail(400, times=1000, path="/message/sendText")  # refused: a 5xx would leave the rows uncertain
    import_contacts(cwa, [f"{phone(i)},C{i},a,ouro" for i in range(8)])
    now = datetime.now(UTC)
    other_days = [d for i, d in enumerate(DAYS) if i != now.weekday()]
    closed = create_campaign(cwa, [channel], window={"start": "00:00", "end": "23:59", "days": other_days,
                                                     "timezone": "UTC"})
    rationed = create_campaign(cwa, [channel], dailyQuotaPerChannel=3)
    failing = create_campaign(cwa, [refusing], maxAttempts=2, maxConsecutiveFailures=3)
    for campaign in (closed, rationed, failing):
        assert cwa.api.post(f"/campaigns/{campaign['id']}/start").status_code == 200
    cwa.stack.spawn("worker")
    cwa.stack.spawn("scheduler")
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC).timestamp()

    def moved_to_tomorrow(campaign: dict[str, Any]) -> bool:
        due = cwa.stack.jobs.scheduled_due(campaign["chronoId"])
        return due is not None and due >= tomorrow

    rationed = wait_for_campaign(cwa, rationed["id"], lambda c: c["sent"] == 3 and moved_to_tomorrow(c), timeout=60)
    closed = wait_for_campaign(cwa, closed["id"], moved_to_tomorrow, timeout=60)
    time.sleep(0.3)  # room for a wrong extra send to show
    assert len(cwa.fake.messages()) == 3
    assert (campaign_state(cwa, rationed["id"])["sent"], campaign_state(cwa, rationed["id"])["pending"]) == (3, 5)
    assert (closed["status"], closed["sent"], closed["pending"]) == ("sending", 0, 8)
    paused = wait_for_campaign(cwa, failing["id"], lambda c: c["status"] == "paused", timeout=60)
    assert paused["pausedReason"] == "3 sends failed in a row (maxConsecutiveFailures)"
    assert cwa.stack.jobs.scheduled_due(paused["chronoId"]) is None
    tried = [r for r in rows(cwa, failing["id"]) if r.attempts]
    assert sum(r.attempts for r in tried) == 3 and all("HTTP 400" in (r.error or "") for r in tried)
    assert {r.status for r in tried} <= {"pending", "failed"} and max(r.attempts for r in tried) <= 2
    assert_counters_equal_rows(cwa, failing["id"])


def test_a_campaign_pauses_without_a_working_channel_and_resumes_when_it_works(cwa: WhatsAppStack) -> None:
    """It pauses with the reason when its only channel disconnects, and goes on by itself once it is WORKING;
    a send answered WAHA's 422 "session status is not as expected" puts the row back (no attempt counted)
    and rests the channel, failing no one."""
    channel = cwa.create_channel("WAHA")["id"]
    import_contacts(cwa, [f"{phone(i)},C{i},a,ouro" for i in range(6)])
    cwa.fake_control("disconnect", provider="waha", session="default")
    assert cwa.channel_status(channel) == "STOPPED"
    campaign = create_campaign(cwa, [channel])
    cid = campaign["id"]
    cwa.api.post(f"/campaigns/{cid}/start")
    cwa.stack.spawn("worker")
    cwa.stack.spawn("scheduler")
    paused = wait_for_campaign(cwa, cid, lambda c: c["status"] == "paused", timeout=60)
    assert paused["pausedReason"].startswith("no channel is WORKING") and paused["sent"] == 0
    assert cwa.stack.jobs.scheduled_due(paused["chronoId"]) is None
    not_ready = {"statusCode": 422, "error": "Unprocessable Entity", "message": "Session status is not as expected. "
                 "Try again later or restart the session. Session: 'default', status: 'STARTING', expected: ['WORKING']"}
    cwa.fake_control("fail", status=422, times=1, path="/api/sendText", body=not_ready)
    cwa.fake_control("connect", provider="waha", session="default")
    wait_for_campaign(cwa, cid, lambda c: c["status"] == "completed", timeout=60)
    assert sorted(m["to"] for m in cwa.fake.messages()) == sorted(phone(i) for i in range(6))
    assert len(cwa.fake.requests("/api/sendText")) == 7
    assert {(r.status, r.attempts) for r in rows(cwa, cid)} == {("sent", 1)}
    assert_counters_equal_rows(cwa, cid)


REWRITE = '''
def run(ctx):
    contact = ctx.extras["contact"]
    if contact["name"] == "Bia":
        raise ValueError("no rewrite for " + contact["phone"])
    return ctx.extras["text"].upper() + " / " + contact["attributes"]["plano"]
'''


def test_rewrite_function_and_number_checks_before_the_first_send(cwa: WhatsAppStack) -> None:
    """It refuses an unknown rewriteFunctionId, sends what the function returns for each contact (given the
    rendered text and the contact), and fails only the row whose rewrite raised; with validateNumbers it
    checks unchecked numbers first, skips one not on WhatsApp and sends a legacy number to its chat id;
    an Evolution send refused with exists: false skips the row and marks the contact invalid."""
    channel = cwa.create_channel("WAHA")["id"]
    evolution = cwa.create_channel("EVOLUTION")["id"]
    import_contacts(cwa, [f"{phone(i)},{name},a,ouro" for i, name in enumerate(["Ana", "Bia", "Caio", "Duda", "Edu"])]
                    + [f"{phone(5)},Fê,e,ouro"])
    cwa.fake_control("numbers", number=phone(3), whatsapp="legacy")
    for invalid in (phone(4), phone(5)):
        cwa.fake_control("numbers", number=invalid, whatsapp="invalid")
    legacy_chat = phone(3)[:4] + phone(3)[5:]
    refused = cwa.api.post("/campaigns", json={"name": "x", "channelIds": [channel], "messageTemplate": "Olá",
                                               "audience": {"tags": ["a"]}, "rewriteFunctionId": "nope"})
    assert refused.status_code == 422 and refused.json()["field"] == "rewriteFunctionId", refused.text
    function = cwa.api.post("/functions", json={"name": "rewrite", "code": REWRITE})
    assert function.status_code == 201, function.text
    campaign = create_campaign(cwa, [channel], rewriteFunctionId=function.json()["id"], validateNumbers=True)
    assert campaign["rewriteFunctionId"] == function.json()["id"] and campaign["validateNumbers"] is True
    cid = campaign["id"]
    refused_id = create_campaign(cwa, [evolution], audience={"tags": ["e"]})["id"]
    cwa.api.post(f"/campaigns/{cid}/start")
    cwa.api.post(f"/campaigns/{refused_id}/start")
    cwa.stack.spawn("worker")
    cwa.stack.spawn("scheduler")
    wait_for_campaign(cwa, cid, lambda c: c["status"] == "completed")
    refused = wait_for_campaign(cwa, refused_id, lambda c: c["status"] == "completed")
    assert (refused["skipped"], refused["failed"]) == (1, 0)
    assert [r.error for r in rows(cwa, refused_id)] == ["not on WhatsApp"]
    sent = sorted((m["to"], m["text"], m["arrived"]) for m in cwa.fake.messages())
    assert sent == sorted([(phone(0), "OLÁ ANA / ouro", True), (phone(2), "OLÁ CAIO / ouro", True),
                           (legacy_chat, "OLÁ DUDA / ouro", True)])
    by_phone = {r.phone: r for r in rows(cwa, cid)}
    assert (by_phone[phone(0)].status, by_phone[phone(0)].sent_text) == ("sent", "OLÁ ANA / ouro")
    failed = by_phone[phone(1)]
    assert failed.status == "failed" and failed.sent_text is None
    assert failed.error is not None and f"ValueError: no rewrite for {phone(1)}" in failed.error
    assert (by_phone[phone(4)].status, by_phone[phone(4)].error) == ("skipped", "not on WhatsApp")
    contacts = {c["phone"]: c for c in cwa.api.get("/contacts", params={"take": 10}).json()["items"]}
    assert contacts[phone(4)]["whatsapp"] == "invalid" and contacts[phone(0)]["whatsapp"] == "valid"
    assert contacts[phone(5)]["whatsapp"] == "invalid"
    assert contacts[phone(3)]["whatsapp"] == "valid" and by_phone[phone(3)].chat_id == legacy_chat + "@c.us"
    assert_counters_equal_rows(cwa, cid)


def test_an_uncertain_send_is_settled_from_the_chat_or_left_to_the_operator(cwa: WhatsAppStack) -> None:
    """A send answered too late is never re-sent on its own: found in the chat's messages it is settled
    sent; not found it stays uncertain (the campaign still completes) until the operator re-queues it."""
    channel = cwa.create_channel("WAHA")["id"]
    import_contacts(cwa, [f"{phone(i)},C{i},a,ouro" for i in range(3)])
    cwa.stack.env["HTTP_REQUEST_TIMEOUT_MS"] = "1000"
    cwa.fake.fail(None, times=1, path="/api/sendText", delay=1.5)  # accepted, but the answer comes too late
    cwa.fake.fail(500, times=1, path="/api/sendText", delay=1.5)  # refused, too late to be told
    cid = create_campaign(cwa, [channel])["id"]
    cwa.api.post(f"/campaigns/{cid}/start")
    cwa.stack.spawn("worker")
    cwa.stack.spawn("scheduler")
    done = wait_for_campaign(cwa, cid, lambda c: c["status"] == "completed")
    assert (done["sent"], done["uncertain"]) == (2, 1)
    by_phone = {r.phone: r for r in rows(cwa, cid)}
    (unknown,) = [r for r in by_phone.values() if r.status == "uncertain"]
    assert "ReadTimeout" in (unknown.error or "") and "not among the chat's last" in (unknown.error or "")
    read = {r["path"].split("/")[4].split("%40")[0] for r in cwa.fake.requests("/api/default/chats/")}
    (settled,) = [by_phone[p] for p in read - {unknown.phone}]  # the other late answer, found in its chat
    sent = {m["to"]: m for m in cwa.fake.messages()}
    assert sorted(sent) == sorted(p for p in by_phone if p != unknown.phone)
    assert settled.status == "sent" and settled.error is None
    assert settled.provider_message_id == f"true_{settled.phone}@c.us_{sent[settled.phone]['id']}"

    assert cwa.api.post(f"/campaigns/{cid}/retry-uncertain").json() == {"retried": 1}
    wait_for_campaign(cwa, cid, lambda c: c["status"] == "completed" and c["sent"] == 3)
    assert sorted(m["to"] for m in cwa.fake.messages()) == [phone(0), phone(1), phone(2)]
    assert_counters_equal_rows(cwa, cid)
