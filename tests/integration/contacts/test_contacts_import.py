"""``POST /contacts/import`` and ``GET /contacts/export`` through the API."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.integration.conftest import Stack

BRAZILIAN_SHEET = (
    "\ufeffTelefone;Nome;Tags;Plano;Cidade\r\n"
    "+55 (11) 8765-4321;Ana Souza;vip|sp;ouro;São Paulo\r\n"
    "+55 21 99888-7777;Bia;rj;;Rio, RJ\r\n"
    "+55 11 98765-4321;Ana de novo;;;\r\n"
    "12ab;Zé;;;\r\n"
    ";Sem número;;;\r\n"
    ";;;;\r\n"
    "+1 415 555 0100;Carl;;prata;\r\n"
)
"""Exported by a Brazilian spreadsheet: BOM, semicolons, Portuguese headers, a trailing blank line."""


def _import(stack: Stack, body: str | bytes, **params: Any) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return stack.api.post("/contacts/import", content=data, params=params, headers={"Content-Type": "text/csv"})


def _contacts(stack: Stack) -> dict[str, dict[str, Any]]:
    items = stack.api.get("/contacts", params={"take": 100}).json()["items"]
    return {item["phone"]: item for item in items}


def test_import_accounts_for_every_line(sqlite_stack: Stack) -> None:
    """It reads BOM, semicolons and aliases, adds the query's tags, and rejects lines with their reasons."""
    response = _import(sqlite_stack, BRAZILIAN_SHEET, tags="importado,2026")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["created"], report["updated"], report["unchanged"]) == (6, 3, 0, 0)
    assert [(r["line"], r["phone"]) for r in report["rejected"]] == [(4, "+55 11 98765-4321"), (5, "12ab"), (6, "")]
    assert report["rejected"][0]["reason"] == "same number as line 2"
    assert "unexpected character" in report["rejected"][1]["reason"]

    stored = _contacts(sqlite_stack)
    ana = stored["5511987654321"]
    assert ana["name"] == "Ana Souza" and ana["tags"] == ["2026", "importado", "sp", "vip"]
    assert ana["attributes"] == {"Plano": "ouro", "Cidade": "São Paulo"}
    assert stored["5521998887777"]["attributes"] == {"Cidade": "Rio, RJ"}
    assert set(stored) == {"5511987654321", "5521998887777", "14155550100"}


def test_import_updates_only_when_asked(sqlite_stack: Stack) -> None:
    """Without update a stored number is unchanged; with it the name, attributes and new tags are written."""
    first = "phone,name,tags\n5511987654321,Ana,vip\n5521998887777,Bia,\n"
    assert _import(sqlite_stack, first).json()["created"] == 2
    second = "PHONE,Name,Tags,plano\n5511987654321,Ana Souza,novo,ouro\n5521998887777,,,\n5531988887777,Caio,,\n"
    kept = _import(sqlite_stack, second).json()
    assert (kept["created"], kept["updated"], kept["unchanged"]) == (1, 0, 2)
    assert _contacts(sqlite_stack)["5511987654321"]["name"] == "Ana"
    changed = _import(sqlite_stack, second, update="true").json()
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    ana = _contacts(sqlite_stack)["5511987654321"]
    assert (ana["name"], ana["tags"], ana["attributes"]) == ("Ana Souza", ["novo", "vip"], {"plano": "ouro"})


def test_import_as_multipart_file(sqlite_stack: Stack) -> None:
    """It reads the multipart field ``file`` (comma-separated, the ``celular`` alias)."""
    files = {"file": ("contatos.csv", b"nome,celular\nAna,+5511987654321\n", "text/csv")}
    response = sqlite_stack.api.post("/contacts/import", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


def test_unusable_files_store_nothing(sqlite_stack: Stack) -> None:
    """No phone column, bad bytes, a bad tag option or a wrong content type: 422 naming the field, nothing stored."""
    no_phone = _import(sqlite_stack, "nome;email\nAna;a@x.com\n", tags="vip")
    assert no_phone.status_code == 422 and no_phone.json()["field"] == "body"
    assert "phone column" in no_phone.json()["detail"]
    files = {"file": ("c.csv", b"nome\nAna\n", "text/csv")}
    in_file = sqlite_stack.api.post("/contacts/import", files=files)
    assert in_file.status_code == 422 and in_file.json()["field"] == "file"
    assert _import(sqlite_stack, b"phone\n\xff\xfe\n").json()["field"] == "body"
    assert _import(sqlite_stack, "phone\n5511987654321\n", tags="a;b").json()["field"] == "tags"
    wrong = sqlite_stack.api.post("/contacts/import", json={"phone": "5511987654321"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "body"
    assert sqlite_stack.api.get("/contacts").json()["total"] == 0
    assert sqlite_stack.api.get("/tags").json()["total"] == 0


def test_export_round_trip(stack: Stack) -> None:
    """The export has the import's columns; importing it back changes nothing."""
    assert _import(stack, BRAZILIAN_SHEET).json()["created"] == 3
    response = stack.api.get("/contacts/export")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["phone", "name", "tags", "Cidade", "Plano"]
    assert {r["phone"]: (r["tags"], r["Plano"]) for r in rows}["5511987654321"] == ("sp;vip", "ouro")
    again = _import(stack, response.text, update="true").json()
    assert (again["total"], again["unchanged"], again["rejected"]) == (3, 3, [])
    only_vip = list(csv.DictReader(io.StringIO(stack.api.get("/contacts/export", params={"tag": "vip"}).text)))
    assert [r["phone"] for r in only_vip] == ["5511987654321"]


FORMULAS = {"name": '=HYPERLINK("http://evil.example","x")', "soma": "+1+2", "menos": "-3",
            "arroba": "@SUM(A1)", "tab": "\t=1", "retorno": "\r=1", "nota": "texto 'normal'"}


def test_formula_cells_are_exported_as_text_and_imported_back(stack: Stack) -> None:
    """It writes a cell a spreadsheet would run as a formula with a leading apostrophe, and the import drops
    that apostrophe again: deleting the contact and importing the export restores the same values."""
    attributes = {key: value for key, value in FORMULAS.items() if key != "name"}
    created = stack.api.post("/contacts", json={"phone": "+55 11 98765-4321", "name": FORMULAS["name"],
                                                "attributes": attributes, "tags": ["=vip"]})
    assert created.status_code == 201, created.text
    exported = stack.api.get("/contacts/export").text
    (row,) = list(csv.DictReader(io.StringIO(exported)))
    assert row["name"] == "'" + FORMULAS["name"] and row["tags"] == "'=vip"
    assert {key: row[key] for key in ("soma", "menos", "arroba", "tab", "retorno", "nota")} == {
        "soma": "'+1+2", "menos": "'-3", "arroba": "'@SUM(A1)", "tab": "'\t=1", "retorno": "'\r=1",
        "nota": "texto 'normal'"}
    assert row["phone"] == "5511987654321"

    assert stack.api.delete(f"/contacts/{created.json()['id']}").status_code == 204
    imported = _import(stack, exported).json()
    assert (imported["created"], imported["rejected"]) == (1, []), imported
    back = _contacts(stack)["5511987654321"]
    assert back["name"] == FORMULAS["name"] and back["tags"] == ["=vip"]
    # The import trims outer spaces of every cell, as it always did: a tab or CR before "=1" goes with them.
    assert back["attributes"] == {**attributes, "tab": "=1", "retorno": "=1"}

