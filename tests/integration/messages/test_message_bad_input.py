"""Bad WhatsApp input is a 4xx naming the problem, and nothing reaches the database or Redis."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.messages.conftest import ANA, WhatsAppStack

CHRONO_CASES = [
    pytest.param({"channelId": "no-such-channel"}, "channelId", "no channel", id="unknown-channel"),
    pytest.param({"channelId": None}, "channelId", "required", id="missing-channel"),
    pytest.param({"recipients": ["+55 11 98765-432a"]}, "recipients", "not a valid number", id="letters-in-number"),
    pytest.param({"recipients": [ANA, "123"]}, "recipients", "item 1", id="too-short-number"),
    pytest.param({"recipients": ["5511987654321@g.us"]}, "recipients", "group", id="group-id"),
    pytest.param({"recipients": ["+55 10 98765-4321"]}, "recipients", "DDD", id="impossible-brazilian-ddd"),
    pytest.param({"recipients": [{"name": "Ana"}]}, "recipients", "no phone", id="recipient-without-phone"),
    pytest.param({"recipients": []}, "recipients", "non-empty", id="empty-recipients"),
    pytest.param({"recipients": None}, "recipients", "non-empty", id="missing-recipients"),
    pytest.param({"messageTemplate": "Olá {{nome}}"}, "messageTemplate", "{{nome}}", id="unknown-variable"),
    pytest.param({"messageTemplate": "Olá {{name}}", "recipients": [ANA]}, "messageTemplate", "{{name}}",
                 id="variable-missing-for-one-recipient"),
    pytest.param({"messageTemplate": "Olá {{user.name}}"}, "messageTemplate", "plain name", id="dotted-variable"),
    pytest.param({"messageTemplate": "Olá {{name"}, "messageTemplate", "never closed", id="unclosed-placeholder"),
    pytest.param({"messageTemplate": "  "}, "messageTemplate", "required", id="blank-template"),
    pytest.param({"recipients": "+55 11 98765-4321"}, "recipients", "Expected `array", id="recipients-not-a-list"),
    pytest.param({"extras": ["x"]}, "extras", "Expected `object", id="extras-not-an-object"),
]


def _unchanged(wa: WhatsAppStack) -> tuple[Any, ...]:
    return wa.stack.row_counts(), wa.stack.redis_snapshot(), wa.counts()


@pytest.mark.parametrize(("change", "field", "words"), CHRONO_CASES)
def test_a_bad_message_chrono_is_refused_and_nothing_is_stored(
    wa: WhatsAppStack, change: dict[str, Any], field: str, words: str
) -> None:
    """It answers 422 naming the field and the problem, with the database and Redis unchanged."""
    channel = wa.create_channel("WAHA")
    valid = {"name": "msg", "cron": "0 8 * * *", "targetType": "MESSAGE", "channelId": channel["id"],
             "messageTemplate": "Olá {{name}}", "recipients": [{"phone": ANA, "name": "Ana"}]}
    before = _unchanged(wa)
    response = wa.api.post("/chronos", json={**valid, **change})
    assert response.status_code == (400 if words.startswith("Expected") else 422), response.text
    error = response.json()
    assert error["field"] == field and words in error["detail"], error
    assert _unchanged(wa) == before


def test_a_bad_update_keeps_the_message_chrono(wa: WhatsAppStack) -> None:
    """It refuses a PATCH with an invalid number and keeps the chrono as it was."""
    channel = wa.create_channel("WAHA")
    chrono = wa.create_message_chrono(channel["id"], [ANA])
    before = _unchanged(wa)
    response = wa.api.patch(f"/chronos/{chrono['id']}", json={"recipients": ["nope"]})
    assert response.status_code == 422 and response.json()["field"] == "recipients"
    assert _unchanged(wa) == before
    assert wa.api.get(f"/chronos/{chrono['id']}").json() == chrono


CHANNEL_CASES = [
    pytest.param({"provider": "TELEGRAM"}, 422, "provider", id="unknown-provider"),
    pytest.param({"provider": "WAHA", "config": {"instance": "x"}}, 422, "config.instance",
                 id="evolution-key-on-waha"),
    pytest.param({"provider": "EVOLUTION", "config": {"session": "x"}}, 422, "config.session",
                 id="waha-key-on-evolution"),
    pytest.param({"provider": "EVOLUTION", "config": {}}, 422, "config.instance", id="evolution-without-instance"),
    pytest.param({"provider": "WAHA", "config": {"baseUrl": "ftp://waha"}}, 422, "config.baseUrl",
                 id="base-url-not-http"),
    pytest.param({"provider": "WAHA", "name": " "}, 422, "name", id="blank-name"),
    pytest.param({"provider": "WAHA", "config": "default"}, 400, "config", id="config-not-an-object"),
    pytest.param({"provider": "WAHA", "colour": "red"}, 400, "colour", id="unknown-field"),
]


@pytest.mark.parametrize(("body", "status", "field"), CHANNEL_CASES)
def test_a_bad_channel_is_refused_and_nothing_is_stored(
    wa: WhatsAppStack, body: dict[str, Any], status: int, field: str
) -> None:
    """It answers 4xx naming the field, and stores no channel."""
    before = _unchanged(wa)
    response = wa.api.post("/channels", json={"name": "c", **body})
    assert response.status_code == status, response.text
    assert field in response.json()["detail"], response.json()
    assert _unchanged(wa) == before


def test_unknown_channel_ids_are_404(wa: WhatsAppStack) -> None:
    """It answers 404 for a channel id that names nothing."""
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "x"}} if method == "patch" else {}
        response = getattr(wa.api, method)("/channels/nope", **kwargs)
        assert response.status_code == 404 and "channel nope" in response.json()["detail"]
