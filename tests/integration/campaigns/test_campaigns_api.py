"""``/campaigns`` through the real API: validation, the snapshot, the status machine and its one job."""

from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import func, select

from chronoflow.store.models import Campaign, CampaignRecipient
from tests.integration.campaigns.conftest import create_campaign, import_contacts, phone, rows
from tests.integration.contacts.conftest import opt_out
from tests.integration.messages.conftest import WhatsAppStack


@pytest.fixture
def cwa(cwa_db: WhatsAppStack) -> WhatsAppStack:
    """These tests run on both backends."""
    return cwa_db


@pytest.fixture
def audience(cwa: WhatsAppStack) -> dict[str, str]:
    """Two channels and eight contacts: tags a and b, one opted out, one without a plano."""
    waha = cwa.create_channel("WAHA")["id"]
    evolution = cwa.create_channel("EVOLUTION")["id"]
    import_contacts(cwa, [
        f"{phone(1)},Ana,a,ouro", f"{phone(2)},Bia,a,prata", f"{phone(3)},Caio,a;b,ouro",
        f"{phone(4)},Davi,a,", f"{phone(5)},Eva,a,ouro", f"{phone(6)},Fabi,b,ouro", f"{phone(7)},,a,ouro",
        f"{phone(8)},Gil,c,ouro",
    ])
    opt_out(cwa.stack, phone(5))
    return {"waha": waha, "evolution": evolution}


BAD_INPUT = [
    ({"channelIds": ["nope"]}, "channelIds[0]"),
    ({"audience": {"tags": ["missing"]}}, "audience.tags"),
    ({"audience": {"tags": ["a"], "excludeTags": ["zz"]}}, "audience.excludeTags"),
    ({"audience": {}}, "audience.tags"),
    ({"messageTemplate": "Olá {{apelido}}"}, "messageTemplate"),
    ({"messageTemplate": "Olá {{name"}, "messageTemplate"),
    ({"variants": ["ok", "{{ bad.name }}"]}, "variants[1]"),
    ({"window": {"start": "20:00", "end": "08:00"}}, "window.end"),
    ({"window": {"start": "8h", "end": "20:00"}}, "window.start"),
    ({"window": {"start": "08:00", "end": "20:00", "days": ["funday"]}}, "window.days"),
    ({"window": {"start": "08:00", "end": "20:00", "timezone": "Mars/Olympus"}}, "window.timezone"),
    ({"delayMinSeconds": 5, "delayMaxSeconds": 1}, "delayMinSeconds"),
    ({"delayMinSeconds": -1}, "delayMinSeconds"),
    ({"dailyQuotaPerChannel": 0}, "dailyQuotaPerChannel"),
    ({"maxAttempts": 0}, "maxAttempts"),
    ({"startAt": "quando der"}, "startAt"),
]


def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(cwa: WhatsAppStack, audience: dict[str, str]) -> None:
    """It refuses each wrong field with a 422 that names it, and no campaign row appears."""
    for change, field in BAD_INPUT:
        body = {"name": "x", "channelIds": [audience["waha"]], "messageTemplate": "Olá {{name}}",
                "audience": {"tags": ["a"]}, **change}
        response = cwa.api.post("/campaigns", json=body)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["field"] == field, (change, response.json())

    async def count() -> int:
        async with cwa.stack.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(Campaign)) or 0)
    assert cwa.stack.db_run(count()) == 0


def test_start_snapshots_rows_with_skip_reasons_and_owns_one_job(cwa: WhatsAppStack, audience: dict[str, str]) -> None:
    """It snapshots one row per selected contact (skips with reasons), counts from rows, and keeps one job only while sending."""
    campaign = create_campaign(cwa, [audience["waha"], audience["evolution"]],
                               messageTemplate="Olá {{name}}, plano {{plano}}", variants=["Oi {{name}} ({{plano}})"],
                               audience={"tags": ["a", "b"], "excludeTags": ["b"]}, delayMinSeconds=0,
                               delayMaxSeconds=0.05)
    assert campaign["status"] == "draft" and campaign["total"] == 0 and campaign["chronoId"] is None
    started = cwa.api.post(f"/campaigns/{campaign['id']}/start")
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["status"] == "sending" and body["estimatedFinishAt"] and body["chronoId"]
    by_phone = {r.phone: r for r in rows(cwa, campaign["id"])}
    assert len(by_phone) == body["total"] == 7  # Gil (tag c) is not selected
    reasons = {p: (r.status, r.error) for p, r in by_phone.items() if r.status == "skipped"}
    assert reasons == {phone(3): ("skipped", "excluded by tag"), phone(6): ("skipped", "excluded by tag"),
                       phone(4): ("skipped", "no value for {{plano}}"), phone(5): ("skipped", "opted out"),
                       phone(7): ("skipped", "no value for {{name}}")}
    assert by_phone[phone(1)].text in ("Olá Ana, plano ouro", "Oi Ana (ouro)")
    assert (body["pending"], body["skipped"]) == (2, 5)
    chrono_id = body["chronoId"]
    assert cwa.stack.jobs.count_schedule_jobs(chrono_id) == 1

    assert cwa.api.post(f"/campaigns/{campaign['id']}/start").status_code == 409
    paused = cwa.api.post(f"/campaigns/{campaign['id']}/pause").json()
    assert paused["status"] == "paused" and paused["pausedReason"] == "paused by the operator"
    assert cwa.stack.jobs.scheduled_due(chrono_id) is None
    edit = cwa.api.patch(f"/campaigns/{campaign['id']}", json={"messageTemplate": "outro"})
    assert edit.status_code == 409 and "messageTemplate" in edit.json()["detail"]
    assert cwa.api.patch(f"/campaigns/{campaign['id']}", json={"delayMaxSeconds": 1}).json()["delayMaxSeconds"] == 1
    assert cwa.api.post(f"/campaigns/{campaign['id']}/resume").json()["status"] == "sending"
    assert cwa.stack.jobs.count_schedule_jobs(chrono_id) == 1
    assert cwa.api.post(f"/chronos/{chrono_id}/trigger").status_code == 409
    assert cwa.api.patch(f"/chronos/{chrono_id}", json={"name": "x"}).status_code == 409
    cancelled = cwa.api.post(f"/campaigns/{campaign['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and (cancelled["pending"], cancelled["skipped"]) == (0, 7)
    assert cwa.stack.jobs.scheduled_due(chrono_id) is None
    events = cwa.api.get(f"/campaigns/{campaign['id']}/events")  # a finished campaign: one event, then the end
    assert events.headers["content-type"].startswith("text/event-stream")
    assert events.text.count("event: progress") == 1 and '"status": "cancelled"' in events.text

    page = cwa.api.get(f"/campaigns/{campaign['id']}/recipients", params={"status": "skipped", "take": 3}).json()
    assert page["total"] == 7 and len(page["items"]) == 3
    report = list(csv.DictReader(io.StringIO(cwa.api.get(f"/campaigns/{campaign['id']}/report.csv").text)))
    assert sorted(r["phone"] for r in report) == sorted(by_phone)
    assert cwa.api.get("/campaigns/nope").status_code == 404

    async def stored_rows() -> int:
        async with cwa.stack.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(CampaignRecipient)) or 0)
    assert cwa.stack.db_run(stored_rows()) == 7


def test_a_test_send_reaches_one_number_and_changes_no_row(cwa: WhatsAppStack, audience: dict[str, str]) -> None:
    """It sends the rendered message to the given number only; a number lacking a placeholder is a 422."""
    campaign = create_campaign(cwa, [audience["waha"]], messageTemplate="Olá {{name}}")
    sent = cwa.api.post(f"/campaigns/{campaign['id']}/test", json={"phone": phone(1)})
    assert sent.status_code == 200, sent.text
    assert [(m["to"], m["text"]) for m in cwa.fake.messages()] == [(phone(1), "Olá Ana")]
    missing = cwa.api.post(f"/campaigns/{campaign['id']}/test", json={"phone": phone(9)})
    assert missing.status_code == 422 and missing.json()["field"] == "phone"
    assert rows(cwa, campaign["id"]) == []


def test_one_send_step_sends_one_message_per_channel(cwa: WhatsAppStack, audience: dict[str, str]) -> None:
    """It waits for startAt, sends one message per WORKING channel in a step run by a worker, then
    completes with no job left; delivery receipts then move its rows to delivered and read."""
    campaign = create_campaign(cwa, [audience["waha"], audience["evolution"]],
                               messageTemplate="Olá {{name}}", audience={"tags": ["b"]}, startAt="in 1 hour")
    started = cwa.api.post(f"/campaigns/{campaign['id']}/start").json()
    assert started["status"] == "scheduled" and started["pending"] == 2
    chrono_id = started["chronoId"]
    due = cwa.stack.jobs.scheduled_due(chrono_id)
    assert due is not None and 3500 < due - time.time() <= 3600
    cwa.stack.run_due(chrono_id)
    done = cwa.api.get(f"/campaigns/{campaign['id']}").json()
    assert (done["status"], done["sent"], done["pending"]) == ("completed", 2, 0)
    assert sorted((m["to"], m["text"]) for m in cwa.fake.messages()) == [(phone(3), "Olá Caio"),
                                                                        (phone(6), "Olá Fabi")]
    sent = [r for r in rows(cwa, campaign["id"]) if r.status == "sent"]
    assert {r.channel_id for r in sent} == {audience["waha"], audience["evolution"]}
    assert all(r.provider_message_id for r in sent)
    assert cwa.stack.jobs.scheduled_due(chrono_id) is None
    (run,) = cwa.stack.runs(chrono_id)
    assert run.status == "success" and run.result["sent"] == 2

    # Receipts (WAHA message.ack, Evolution messages.update) move rows forward, never back.
    ids = {m["provider"]: m["id"] for m in cwa.fake.messages()}
    for provider, status in (("waha", "delivered"), ("evolution", "read"), ("evolution", "delivered")):
        (hook,) = cwa.fake_control("ack", messageId=ids[provider], status=status)["webhooks"]
        assert hook["status"] == 200, hook
    counters = cwa.api.get(f"/campaigns/{campaign['id']}").json()
    assert (counters["sent"], counters["delivered"], counters["read"]) == (0, 1, 1)
    by_channel = {r.channel_id: r.status for r in rows(cwa, campaign["id"])}
    assert by_channel == {audience["waha"]: "delivered", audience["evolution"]: "read"}


def test_cancelling_a_paused_campaign_clears_its_paused_reason(cwa: WhatsAppStack, audience: dict[str, str]) -> None:
    """It forgets why a campaign was paused once it is cancelled: nothing is waiting to resume any more."""
    campaign = create_campaign(cwa, [audience["waha"]], startAt="in 1 hour")
    cid = campaign["id"]
    assert cwa.api.post(f"/campaigns/{cid}/start").json()["status"] == "scheduled"
    paused = cwa.api.post(f"/campaigns/{cid}/pause").json()
    assert (paused["status"], paused["pausedReason"]) == ("paused", "paused by the operator")
    cancelled = cwa.api.post(f"/campaigns/{cid}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["pausedReason"]) == ("cancelled", None)
    assert cwa.api.get(f"/campaigns/{cid}").json()["pausedReason"] is None


def test_a_send_answered_500_leaves_its_row_uncertain_never_resent(cwa: WhatsAppStack,
                                                                   audience: dict[str, str]) -> None:
    """It marks a row uncertain when the gateway answered its send 5xx (the message may have left), and
    neither the transport nor the step sends it again."""
    campaign = create_campaign(cwa, [audience["waha"]], audience={"tags": ["b"]}, startAt="in 1 hour")
    started = cwa.api.post(f"/campaigns/{campaign['id']}/start").json()
    assert started["pending"] == 2
    cwa.fake_control("fail", status=500, times=1, path="/api/sendText", processed=True)
    cwa.stack.run_due(started["chronoId"])
    by_status = {r.status: r for r in rows(cwa, campaign["id"])}
    assert set(by_status) == {"uncertain", "pending"}, by_status
    uncertain = by_status["uncertain"]
    assert uncertain.attempts == 1 and "HTTP 500" in (uncertain.error or "")
    assert len(cwa.fake.requests("/api/sendText")) == 1
    assert [m["to"] for m in cwa.fake.messages()] == [uncertain.phone]


def test_the_report_writes_formula_cells_as_text(cwa: WhatsAppStack) -> None:
    """It writes a report cell a spreadsheet would run as a formula (a contact's name, the text made from
    it) with a leading apostrophe."""
    channel = cwa.create_channel("WAHA")["id"]
    import_contacts(cwa, [f'{phone(1)},"=HYPERLINK(""http://evil.example"")",a,ouro', f"{phone(2)},@SUM(A1),a,-1"])
    campaign = create_campaign(cwa, [channel], messageTemplate="{{name}}", startAt="in 1 hour")
    assert cwa.api.post(f"/campaigns/{campaign['id']}/start").json()["pending"] == 2
    response = cwa.api.get(f"/campaigns/{campaign['id']}/report.csv")
    assert response.status_code == 200, response.text
    report = {r["phone"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert (report[phone(1)]["name"], report[phone(1)]["text"]) == ('\'=HYPERLINK("http://evil.example")',) * 2
    assert (report[phone(2)]["name"], report[phone(2)]["text"]) == ("'@SUM(A1)",) * 2
    assert report[phone(1)]["status"] == "pending" and report[phone(1)]["attempts"] == "0"
