"""Contacts and campaigns in a real browser: a CSV import's report, and a campaign's live counters."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Console, shoot

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("console")]


def test_importing_a_csv_shows_the_report_line_by_line(page: Page) -> None:
    """It uploads a file through the form and lists the one rejected line with its number and reason."""
    csv = ("telefone,nome,tags\n+55 11 97001-0001,Ana,csv-vip\n+55 11 97001-0002,Bia,csv-vip;csv-b\n"
           "12ab,Caio,csv-vip\n")
    page.goto("/console/contacts/")
    page.get_by_label("CSV file").set_input_files(files=[{"name": "people.csv", "mimeType": "text/csv",
                                                          "buffer": csv.encode()}])
    page.get_by_label("Tags added to every line").fill("csv-import")
    page.get_by_role("button", name="Import").click()
    report = page.locator("#import-report")
    expect(report.locator("[data-report=total]")).to_have_text("3")
    expect(report.locator("[data-report=created]")).to_have_text("2")
    expect(report.locator("[data-report=rejected]")).to_have_text("1")
    rejected = report.get_by_role("row").filter(has_text="12ab")
    expect(rejected.get_by_role("cell").first).to_have_text("4")  # the file's fourth line
    shoot(page, "contacts-import")
    page.get_by_label("Tags", exact=True).select_option("csv-b")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.contacts tbody tr")).to_have_count(1)
    expect(page.locator("table.contacts")).to_contain_text("5511970010002")


def test_a_campaign_started_from_the_console_counts_its_sends_live(page: Page, console: Console) -> None:
    """It previews the audience and message, starts against the fake gateway, and the counters move by
    themselves (server-sent events) until every contact got its message."""
    lines = "\n".join(f"55119710{i:05d},Cliente {i},promo-live" for i in range(6))
    imported = console.api.post("/contacts/import", content=f"phone,name,tags\n{lines}\n".encode(),
                                headers={"Content-Type": "text/csv"})
    assert imported.status_code == 200 and imported.json()["created"] == 6, imported.text
    made = console.api.post("/channels", json={"name": "promo phone", "provider": "WAHA",
                                               "config": {"session": "default", "baseUrl": console.fake.url}})
    assert made.status_code == 201, made.text
    assert console.fake_connect("default").status_code == 200
    assert console.api.get("/waha/sessions/default").status_code == 200  # the channel reads WORKING
    page.goto("/console/campaigns/new")
    page.get_by_label("Name").fill("live promo")
    page.get_by_label("Channel", exact=True).select_option(label="promo phone (WORKING)")
    page.get_by_label("Message", exact=True).fill("Olá {{name}}, temos novidades")
    page.get_by_label("Tags", exact=True).fill("promo-live")
    preview = page.locator("#campaign-preview")
    expect(preview.locator("[data-preview=audience]")).to_contain_text("6")
    expect(preview.locator("[data-preview=message]")).to_have_text(re.compile(r"^Olá Cliente [0-5], temos novidades$"))
    page.get_by_label("Shortest delay (seconds)").fill("0")
    page.get_by_label("Longest delay (seconds)").fill("0.2")
    shoot(page, "campaign-form")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("live promo")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("[data-counter=pending]")).to_have_text("6")
    page.evaluate("window.notReloaded = true")
    with console.running("scheduler", "worker"):
        expect(page.locator("[data-counter=sent]")).to_have_text("6", timeout=30_000)
    expect(page.locator("[data-counter=pending]")).to_have_text("0")
    expect(page.locator("[data-campaign-status]")).to_have_text("completed")
    assert page.evaluate("window.notReloaded") is True
    shoot(page, "campaign-detail")
    sent_to = {m["to"] for m in console.fake.messages()}
    assert {f"55119710{i:05d}" for i in range(6)} <= {to.split("@")[0] for to in sent_to}
