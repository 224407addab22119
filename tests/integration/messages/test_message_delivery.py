"""The MESSAGE target end to end: real API, real worker processes, the fake gateway over HTTP."""

from __future__ import annotations

import time

from tests.integration.messages.conftest import (
    ANA,
    ANA_DIGITS,
    BRUNO,
    BRUNO_DIGITS,
    CARLA,
    CARLA_DIGITS,
    WhatsAppStack,
)

SEND_PATHS = {"WAHA": "/api/sendText", "EVOLUTION": "/message/sendText/default"}


def _sent(wa: WhatsAppStack) -> list[tuple[str, str]]:
    return [(m["to"], m["text"]) for m in wa.fake.messages()]


def test_a_scheduled_message_arrives_rendered_for_each_recipient(wa: WhatsAppStack, provider: str) -> None:
    """It sends the template, rendered per recipient, to each normalized number, and records the ids."""
    channel = wa.create_channel(provider)
    assert channel["status"] == "WORKING" and channel["hasApiKey"] is False
    chrono = wa.create_message_chrono(
        channel["id"], [{"phone": ANA, "name": "Ana"}, {"number": BRUNO, "name": "Bruno"}, ANA],
        template="Olá {{name}}, sua fatura de {{valor}} vence hoje ({{phone}})", extras={"valor": "R$ 10", "name": "?"},
    )
    assert chrono["recipients"] == [{"name": "Ana", "phone": ANA_DIGITS}, {"name": "Bruno", "phone": BRUNO_DIGITS}]
    wa.run_due(chrono["id"])
    assert _sent(wa) == [
        (ANA_DIGITS, f"Olá Ana, sua fatura de R$ 10 vence hoje ({ANA_DIGITS})"),
        (BRUNO_DIGITS, f"Olá Bruno, sua fatura de R$ 10 vence hoje ({BRUNO_DIGITS})"),
    ]
    if provider == "WAHA":
        assert [m["chatId"] for m in wa.fake.messages()] == [f"{ANA_DIGITS}@c.us", f"{BRUNO_DIGITS}@c.us"]
    else:
        bodies = [r["body"] for r in wa.fake.requests("/message/sendText/")]
        assert [b["number"] for b in bodies] == [ANA_DIGITS, BRUNO_DIGITS]
    (run,) = wa.stack.runs(chrono["id"])
    assert run.status == "success" and run.trigger == "schedule"
    ids = {m["id"] for m in wa.fake.messages()}
    recipients = run.result["recipients"]
    assert [(r["number"], r["outcome"]) for r in recipients] == [(ANA_DIGITS, "sent"), (BRUNO_DIGITS, "sent")]
    assert all(r["messageId"] and any(i in r["messageId"] for i in ids) for r in recipients)
    assert wa.api.get(f"/runs/{run.id}").json()["result"]["sent"] == 2


def test_a_manual_trigger_sends_now(wa: WhatsAppStack, provider: str) -> None:
    """It sends on POST /chronos/{id}/trigger, beside the schedule."""
    channel = wa.create_channel(provider)
    chrono = wa.create_message_chrono(channel["id"], [CARLA], template="Hello {{phone}}", cron="0 0 1 1 *")
    run_id = wa.api.post(f"/chronos/{chrono['id']}/trigger").json()["runId"]
    wa.stack.drain()
    assert _sent(wa) == [(CARLA_DIGITS, f"Hello {CARLA_DIGITS}")]
    assert wa.api.get(f"/runs/{run_id}").json()["status"] == "success"


def test_a_disconnected_channel_fails_fast_without_retry(wa: WhatsAppStack, provider: str) -> None:
    """It fails the run at once with 'channel not connected' when the session is not WORKING."""
    channel = wa.create_channel(provider)
    chrono = wa.create_message_chrono(channel["id"], [ANA])
    wa.fake_control("disconnect", provider=provider.lower(), session="default")
    assert wa.channel_status(channel["id"]) == "STOPPED"
    wa.run_due(chrono["id"])
    (run,) = wa.stack.runs(chrono["id"])
    assert run.status == "failed" and run.error_message.startswith("channel not connected"), run.error_message
    assert "STOPPED" in run.error_message
    time.sleep(0.5)
    assert wa.stack.hand_over() == 0  # no retry into a dead session
    assert wa.fake.messages() == [] and wa.fake.requests(SEND_PATHS[provider]) == []


def test_a_provider_500_is_reported_as_maybe_delivered_and_never_repeated(wa: WhatsAppStack, provider: str) -> None:
    """It fails a recipient whose send was answered 500 with maybeDelivered (the gateway may have sent it before
    failing), attempts no one after it, and neither retries the send nor the run."""
    channel = wa.create_channel(provider)
    chrono = wa.create_message_chrono(channel["id"], [ANA, BRUNO, CARLA])
    wa.fake.fail(500, times=1, path=SEND_PATHS[provider], processed=True)
    wa.run_due(chrono["id"])
    time.sleep(0.6)  # past the backoff a retry run would have had
    assert wa.stack.hand_over() == 0
    (run,) = wa.stack.runs(chrono["id"])
    assert run.status == "failed" and "HTTP 500" in run.error_message
    recipients = run.result["recipients"]
    assert [(r["outcome"], r["maybeDelivered"], r["retryable"]) for r in recipients] == [
        ("failed", True, False), ("not_attempted", False, False), ("not_attempted", False, False)]
    assert "may have been delivered" in recipients[0]["reason"]
    assert [r["status"] for r in wa.fake.requests(SEND_PATHS[provider])] == [500]
    assert _sent(wa) == [(ANA_DIGITS, f"Olá {ANA_DIGITS}")]


def test_a_provider_400_is_not_retried(wa: WhatsAppStack, provider: str) -> None:
    """It records a 4xx answer as a failure and does not try again."""
    channel = wa.create_channel(provider)
    chrono = wa.create_message_chrono(channel["id"], [ANA])
    wa.fake.fail(400, times=1, path=SEND_PATHS[provider])
    wa.run_due(chrono["id"])
    time.sleep(0.5)
    assert wa.stack.hand_over() == 0
    (run,) = wa.stack.runs(chrono["id"])
    assert run.status == "failed" and "HTTP 400" in run.error_message
    assert run.result["recipients"][0]["outcome"] == "failed"
    assert len(wa.fake.requests(SEND_PATHS[provider])) == 1 and wa.fake.messages() == []


def test_an_unreachable_gateway_is_retried_and_serves_everyone_once(wa: WhatsAppStack, provider: str) -> None:
    """It retries a run whose gateway refused the connection (the request never left), and the retry sends
    each recipient one message."""
    channel = wa.create_channel(provider)
    chrono = wa.create_message_chrono(channel["id"], [ANA, BRUNO, CARLA])
    wa.fake.stop()  # connections refused: nothing can arrive
    wa.run_due(chrono["id"])
    wa.fake.start()  # the same URL again
    wa.run_retries(chrono["id"], attempts=2)
    first, second = wa.stack.runs(chrono["id"])
    assert first.status == "failed" and second.status == "success"
    assert [(r["outcome"], r["retryable"], r["maybeDelivered"]) for r in first.result["recipients"]] == [
        ("failed", True, False), ("not_attempted", True, False), ("not_attempted", True, False)]
    assert "ConnectError" in first.result["recipients"][0]["reason"]
    assert [r["outcome"] for r in second.result["recipients"]] == ["sent", "sent", "sent"]
    assert sorted(to for to, _ in _sent(wa)) == sorted([ANA_DIGITS, BRUNO_DIGITS, CARLA_DIGITS])


def test_a_send_that_may_have_arrived_is_never_repeated(wa: WhatsAppStack, provider: str) -> None:
    """It does not resend to a recipient whose send timed out after going out, stops the batch there, and
    does not retry the run."""
    wa.stack.env["HTTP_REQUEST_TIMEOUT_MS"] = "1000"
    channel = wa.create_channel(provider)
    chrono = wa.create_message_chrono(channel["id"], [ANA, BRUNO, CARLA])
    wa.fake.fail(None, delay=1.6, times=1, path=SEND_PATHS[provider])  # Ana's text arrives, the answer is late
    wa.run_due(chrono["id"])
    time.sleep(0.6)  # past the backoff a retry run would have had
    assert wa.stack.hand_over() == 0
    (run,) = wa.stack.runs(chrono["id"])
    assert run.status == "failed"
    assert [(r["outcome"], r["retryable"], r["maybeDelivered"]) for r in run.result["recipients"]] == [
        ("failed", False, True), ("not_attempted", False, False), ("not_attempted", False, False)]
    assert "may have been delivered" in run.result["recipients"][0]["reason"]
    assert len(wa.fake.requests(SEND_PATHS[provider])) == 1
    wa.stack.wait_until(lambda: _sent(wa), timeout=10)  # the late answer's message is recorded all the same
    assert [to for to, _ in _sent(wa)] == [ANA_DIGITS]
