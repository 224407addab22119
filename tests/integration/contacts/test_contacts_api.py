"""``/tags`` and ``/contacts`` through the API: CRUD, filters, and bad input naming the field."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Stack
from tests.integration.contacts.conftest import contact, opt_out


def _phones(stack: Stack, **params: Any) -> list[str]:
    response = stack.api.get("/contacts", params=params)
    assert response.status_code == 200, response.text
    return sorted(item["phone"] for item in response.json()["items"])


def test_contacts_crud_and_filters(stack: Stack) -> None:
    """It normalizes phones (ninth digit), creates unknown tags, and filters by tag, text and opt-out."""
    ana = contact(stack, phone="+55 (11) 8765-4321", name="Ana Souza", attributes={"plano": "ouro"},
                  tags=["vip", "sp"])
    assert ana["phone"] == "5511987654321" and ana["tags"] == ["sp", "vip"]
    assert ana["whatsapp"] == "unknown" and ana["optedOut"] is False
    bia = contact(stack, phone="5521998887777", name="Bia", tags=["rj"])
    contact(stack, phone="+1 415 555 0100", name="Carl")
    opt_out(stack, "5521998887777")

    assert _phones(stack, tag="vip") == ["5511987654321"]
    assert _phones(stack, q="souza") == ["5511987654321"]
    assert _phones(stack, q="4155") == ["14155550100"]
    assert _phones(stack, optedOut="true") == ["5521998887777"]
    assert _phones(stack, optedOut="false") == ["14155550100", "5511987654321"]
    page = stack.api.get("/contacts", params={"skip": 1, "take": 1}).json()
    assert page["total"] == 3 and len(page["items"]) == 1

    tags = {t["name"]: t for t in stack.api.get("/tags").json()["items"]}
    assert {name: t["contactCount"] for name, t in tags.items()} == {"rj": 1, "sp": 1, "vip": 1}

    changed = stack.api.patch(f"/contacts/{bia['id']}", json={"tags": ["vip"], "attributes": {"cidade": "Rio"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["tags"] == ["vip"] and changed.json()["optedOut"] is True
    assert _phones(stack, tag="vip") == ["5511987654321", "5521998887777"]

    assert stack.api.delete(f"/tags/{tags['vip']['id']}").status_code == 204
    assert stack.api.get(f"/contacts/{ana['id']}").json()["tags"] == ["sp"]
    assert stack.api.delete(f"/contacts/{ana['id']}").status_code == 204
    assert stack.api.get(f"/contacts/{ana['id']}").status_code == 404


def test_tags_crud(sqlite_stack: Stack) -> None:
    """It creates, renames and refuses a taken name with 409."""
    api = sqlite_stack.api
    vip = api.post("/tags", json={"name": " vip "})
    assert vip.status_code == 201 and vip.json()["name"] == "vip"
    api.post("/tags", json={"name": "lead"})
    taken = api.post("/tags", json={"name": "vip"})
    assert taken.status_code == 409 and taken.json()["field"] == "name", taken.text
    assert taken.json()["detail"] == "name: a tag named 'vip' already exists"
    clash = api.patch(f"/tags/{vip.json()['id']}", json={"name": "lead"})
    assert clash.status_code == 409 and clash.json()["field"] == "name", clash.text
    renamed = api.patch(f"/tags/{vip.json()['id']}", json={"name": "ouro"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "ouro"
    assert [t["name"] for t in api.get("/tags").json()["items"]] == ["lead", "ouro"]


BAD_INPUT = [
    ("/contacts", {"phone": "abc"}, "phone"),
    ("/contacts", {"phone": "+55 11 2345"}, "phone"),
    ("/contacts", {"phone": "+5511987654321", "tags": ["a;b"]}, "tags"),
    ("/contacts", {"phone": "+5511987654321", "attributes": {"name": "x"}}, "attributes"),
    ("/contacts", {"phone": "+5511987654321", "attributes": {"a": {"nested": 1}}}, "attributes"),
    ("/contacts", {"phone": "+5511987654321", "name": "x" * 201}, "name"),
    ("/tags", {"name": "  "}, "name"),
    ("/tags", {"name": "a|b"}, "name"),
]
"""Request, and the field its 422 must name."""


def test_bad_input_names_the_field(sqlite_stack: Stack) -> None:
    """It answers 422 naming the field and stores nothing (one database for all cases: they store nothing)."""
    for path, body, field in BAD_INPUT:
        response = sqlite_stack.api.post(path, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == field, (body, response.text)
    assert sqlite_stack.api.get("/contacts").json()["total"] == 0
    assert sqlite_stack.api.get("/tags").json()["total"] == 0


def test_duplicate_phone_is_a_conflict(sqlite_stack: Stack) -> None:
    """The same number written two ways is one contact: the second create is a 409."""
    contact(sqlite_stack, phone="5511987654321")
    again = sqlite_stack.api.post("/contacts", json={"phone": "+55 11 8765-4321"})
    assert again.status_code == 409 and again.json()["field"] == "phone", again.text
    assert again.json()["detail"].startswith("phone: ")
