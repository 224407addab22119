"""``POST /contacts/validate`` against the fake gateway, through each provider."""

from __future__ import annotations

import httpx
import pytest

from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from tests.integration.conftest import Stack
from tests.integration.contacts.conftest import contact


@pytest.mark.parametrize("provider", ["WAHA", "EVOLUTION"])
def test_validate_stores_state_and_chat_id(gateway_stack: tuple[Stack, FakeWhatsApp], provider: str) -> None:
    """Valid numbers get the gateway's chat id (a legacy Brazilian one without its 9); invalid ones are marked."""
    stack, fake = gateway_stack
    key = "session" if provider == "WAHA" else "instance"
    channel = stack.api.post("/channels", json={"name": "c", "provider": provider, "config": {key: "default"}})
    assert channel.status_code == 201, channel.text
    legacy = contact(stack, phone="+55 11 98765-4321", tags=["vip"])
    gone = contact(stack, phone="+55 21 99888-7777", tags=["vip"])
    plain = contact(stack, phone="+1 415 555 0100", tags=["vip"])
    untagged = contact(stack, phone="+1 415 555 0199")
    for number, kind in ((legacy["phone"], "legacy"), (gone["phone"], "invalid")):
        assert httpx.post(f"{fake.url}/_fake/numbers", json={"number": number, "whatsapp": kind}).status_code == 200

    response = stack.api.post("/contacts/validate", json={"channelId": channel.json()["id"], "tag": "vip"})
    assert response.status_code == 200, response.text
    assert response.json() == {"checked": 3, "valid": 2, "invalid": 1}
    suffix = "@c.us" if provider == "WAHA" else "@s.whatsapp.net"
    states = {c["phone"]: (c["whatsapp"], c["whatsappChatId"]) for c in stack.api.get("/contacts").json()["items"]}
    assert states == {
        "5511987654321": ("valid", "551187654321" + suffix),
        "5521998887777": ("invalid", None),
        "14155550100": ("valid", "14155550100" + suffix),
        "14155550199": ("unknown", None),
    }
    assert untagged["whatsapp"] == "unknown" and plain["whatsappCheckedAt"] is None


def test_validate_bad_input_names_the_field(gateway_stack: tuple[Stack, FakeWhatsApp]) -> None:
    """An unknown channel or contact id is a 422 naming the field; nothing is checked."""
    stack, fake = gateway_stack
    stored = contact(stack, phone="+1 415 555 0100")
    unknown_channel = stack.api.post("/contacts/validate", json={"channelId": "nope"})
    assert unknown_channel.status_code == 422 and unknown_channel.json()["field"] == "channelId"
    channel = stack.api.post("/channels", json={"name": "c", "provider": "WAHA", "config": {"session": "default"}})
    unknown_contact = stack.api.post("/contacts/validate",
                                     json={"channelId": channel.json()["id"], "contactIds": [stored["id"], "x"]})
    assert unknown_contact.status_code == 422 and unknown_contact.json()["field"] == "contactIds"
    checks = httpx.get(f"{fake.url}/_fake/requests", params={"path": "/api/contacts"}).json()
    assert checks["total"] == 0
