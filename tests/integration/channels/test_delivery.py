"""deliver(): one template to many recipients through the fake gateway, never twice to anyone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chronoflow.channels import Outcome, TemplateSyntaxError, WhatsAppProvider, deliver
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp

pytestmark = pytest.mark.anyio

ClientFactory = Callable[..., WhatsAppProvider]


async def test_it_sends_a_personal_message_to_each(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str
) -> None:
    """It renders the template per recipient, with common and personal values."""
    report = await deliver(
        make_client(provider, fake.url),
        [{"phone": "+55 11 98765-4321", "name": "Ana"}, {"number": "5521987654321", "name": "Bia"}],
        "Olá {{name}}, sua fatura de {{month}} vence hoje",
        {"month": "maio", "name": "cliente"},
    )
    assert report.ok and report.summary() == "sent 2"
    assert [(m["to"], m["text"]) for m in fake.messages()] == [
        ("5511987654321", "Olá Ana, sua fatura de maio vence hoje"),
        ("5521987654321", "Olá Bia, sua fatura de maio vence hoje"),
    ]
    assert all(r.message_id for r in report.results)


async def test_it_skips_opt_outs_duplicates_and_served(
    fake: FakeWhatsApp, make_client: ClientFactory
) -> None:
    """It sends once per person: opted-out, repeated and already-served numbers are skipped with a reason."""
    report = await deliver(
        make_client("waha", fake.url),
        ["5511987654321", "+55 11 8765-4321", "5531987654321", "5541987654321", "5551987654321"],
        "oi",
        opted_out={"5531987654321"},
        already_sent={"5541987654321"},
    )
    assert [(r.outcome, r.reason) for r in report.results] == [
        (Outcome.SENT, None),
        (Outcome.SKIPPED, "duplicate recipient"),
        (Outcome.SKIPPED, "opted out"),
        (Outcome.SKIPPED, "already sent"),
        (Outcome.SENT, None),
    ]
    assert [m["to"] for m in fake.messages()] == ["5511987654321", "5551987654321"]


async def test_bad_recipients_fail_alone(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It fails an invalid number or a missing variable for that recipient only, not retryable."""
    report = await deliver(
        make_client("waha", fake.url),
        ["group@g.us", {"phone": "5511987654321"}, {"phone": "5521987654321", "name": "Bia"}, {"name": "x"}],
        "Olá {{name}}",
    )
    assert [r.outcome for r in report.results] == [
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.SENT,
        Outcome.FAILED,
    ]
    assert "group" in (report.results[0].reason or "")
    assert "'name'" in (report.results[1].reason or "")
    assert report.results[3].recipient == "None"
    assert not report.ok and not report.retryable
    assert len(fake.messages()) == 1


async def test_an_unreachable_gateway_stops_the_batch(fake: FakeWhatsApp, make_client: ClientFactory,
                                                       closed_port: int) -> None:
    """It stops at a send that never left (connection refused) and leaves the rest for a retry, which serves
    them once."""
    recipients = ["5511987654321", "5521987654321", "5531987654321"]
    await deliver(make_client("evolution", fake.url), recipients[:1], "oi")
    down = make_client("evolution", f"http://127.0.0.1:{closed_port}")
    first = await deliver(down, recipients, "oi", already_sent={"5511987654321"})
    assert [r.outcome for r in first.results] == [Outcome.SKIPPED, Outcome.FAILED, Outcome.NOT_ATTEMPTED]
    assert first.retryable and first.as_dict()["notAttempted"] == 1
    assert not any(r["maybeDelivered"] for r in first.as_dict()["recipients"])

    client = make_client("evolution", fake.url)
    retry = await deliver(client, recipients, "oi", already_sent={"5511987654321", *first.sent_numbers})
    assert retry.ok and retry.summary() == "sent 2, skipped 1"
    assert sorted(m["to"] for m in fake.messages()) == recipients


async def test_a_send_that_may_have_been_delivered_stops_the_batch_for_good(
    fake: FakeWhatsApp, make_client: ClientFactory, provider: str, send_path: str
) -> None:
    """It fails a recipient whose send was answered 5xx as maybeDelivered, attempts no one after it, and
    leaves nothing retryable: a retry could send that person a second message."""
    recipients = ["5511987654321", "5521987654321", "5531987654321"]
    fake.fail(500, times=5, processed=True)
    report = await deliver(make_client(provider, fake.url), recipients, "oi")
    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.NOT_ATTEMPTED, Outcome.NOT_ATTEMPTED]
    first, *rest = report.as_dict()["recipients"]
    assert (first["maybeDelivered"], first["retryable"]) == (True, False)
    assert "may have been delivered" in first["reason"]
    assert all(not r["retryable"] and not r["maybeDelivered"] for r in rest)
    assert not report.retryable and not report.ok
    assert len(fake.requests(send_path)) == 1


async def test_a_malformed_template_sends_nothing(fake: FakeWhatsApp, make_client: ClientFactory) -> None:
    """It checks the template before the first send."""
    with pytest.raises(TemplateSyntaxError):
        await deliver(make_client("waha", fake.url), ["5511987654321"], "Olá {{name")
    assert fake.requests() == []
