"""The console in a real browser: signing in, chronos, runs, functions, channels, contacts, campaigns,
languages, labels."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import TOKEN, Console, open_context, shoot

# One xdist process runs them all, in a row: one browser start, torn down before other tests run there.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("console")]

EIGHT_O_CLOCK = re.compile(r"(^|\D)0?8:00")
"""08:00 in the browser's zone, as either language writes it."""


def create_http_chrono(console: Console, name: str, url: str, cron: str = "0 8 * * *") -> dict[str, Any]:
    response = console.api.post("/chronos", json={"name": name, "cron": cron, "timezone": "UTC",
                                                  "targetType": "HTTP", "url": url})
    assert response.status_code == 201, response.text
    return response.json()


def test_it_asks_for_a_token_and_signs_out(browser: Browser, console: Console) -> None:
    """It redirects to sign-in, refuses a wrong token beside its field, and signing out ends the session."""
    context = open_context(browser, console)
    page = context.new_page()
    page.goto("/console/chronos/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#error-token")).to_contain_text("not one of the server's API tokens")
    shoot(page, "signin")
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chronos")  # back where it was going
    cookie = next(c for c in context.cookies() if c["name"] == "cf_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    page.goto("/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    context.close()


def test_it_creates_an_http_chrono_from_a_portuguese_schedule(page: Page) -> None:
    """It previews how "todo dia às 08:00" is read, shows an API refusal beside its field, then creates."""
    page.goto("/console/chronos/new")
    page.get_by_label("Name").fill("billing reminder")
    page.get_by_label("Schedule").fill("61 * * * *")
    page.get_by_label("Time zone").fill("America/Sao_Paulo")
    page.get_by_label("Target").select_option("HTTP")
    page.get_by_label("URL").fill("http://127.0.0.1:9/hook")
    expect(page.get_by_label("Method")).to_be_visible()
    expect(page.get_by_label("Recipients")).to_be_hidden()  # another target's field
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#error-cron")).to_contain_text("minute 61 is out of range")
    page.get_by_label("Schedule").fill("todo dia às 08:00")
    preview = page.locator("#schedule-preview")
    expect(preview).to_contain_text("every day at 08:00")
    expect(preview.locator("li")).to_have_count(5)
    expect(preview.locator("li").first).to_contain_text(EIGHT_O_CLOCK)
    shoot(page, "chrono-form")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("billing reminder")
    expect(page.locator(".facts")).to_contain_text("todo dia às 08:00")
    expect(page.locator(".facts")).to_contain_text(EIGHT_O_CLOCK)  # the next run, in the browser's zone
    page.goto("/console/chronos/?q=BILLING")
    expect(page.get_by_role("link", name="billing reminder")).to_be_visible()


def test_a_run_appears_without_reloading_and_it_pauses_and_resumes(
        page: Page, console: Console, http_receiver: Any) -> None:
    """Run now queues a run; a real worker runs it against a receiver; the page shows it by itself."""
    chrono = create_http_chrono(console, "ping receiver", f"{http_receiver.url}/ping")
    page.goto(f"/console/chronos/{chrono['id']}")
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(f"**/console/chronos/{chrono['id']}")
    page.evaluate("window.notReloaded = true")
    console.burst_worker()
    http_receiver.wait_for(1, path="/ping")
    expect(page.locator("#runs .badge-success")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    shoot(page, "chrono-detail")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("[data-chrono-state]")).to_have_text("Paused")
    assert console.api.get(f"/chronos/{chrono['id']}").json()["isActive"] is False
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("[data-chrono-state]")).to_have_text("Active")
    assert console.api.get(f"/chronos/{chrono['id']}").json()["isActive"] is True


def test_testing_a_function_shows_its_failing_line(page: Page) -> None:
    """It saves code from the editor and a failed test points at the line that raised."""
    page.goto("/console/functions/new")
    page.get_by_label("Name").fill("divide")
    page.get_by_label("Code").fill("def run(ctx):\n    ctx.log('about to divide')\n    return ctx.extras['n'] / 0\n")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("divide")
    page.get_by_label("Extras (JSON)").fill('{"n": 4}')
    page.get_by_role("button", name="Test").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("Failing line 3")
    expect(result).to_contain_text("ZeroDivisionError")
    expect(result).to_contain_text("about to divide")
    expect(page.locator(".gutter .bad")).to_have_text("3")
    shoot(page, "function-test")


def test_the_qr_page_turns_connected_when_the_phone_pairs(page: Page, console: Console) -> None:
    """Logout and Start, then the QR code; the fake gateway pairs and the page says so without reloading."""
    made = console.api.post("/channels", json={"name": "sales phone", "provider": "WAHA",
                                               "config": {"session": "default", "baseUrl": console.fake.url}})
    assert made.status_code == 201, made.text
    channel = made.json()
    page.goto("/console/channels/")
    row = page.get_by_role("row").filter(has_text="sales phone")
    row.get_by_role("button", name="Logout").click()  # unpaired: starting it asks for a scan
    row.get_by_role("button", name="Start", exact=True).click()
    expect(row.locator("[data-channel-status]")).to_have_text("SCAN_QR_CODE")
    row.get_by_role("link", name="Scan the QR code").click()
    image = page.get_by_role("img", name="QR code to scan with WhatsApp")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('[data-qr-image]').naturalWidth > 0")  # a real PNG
    shoot(page, "channel-qr")
    paired = console.fake_connect("default")
    assert paired.status_code == 200, paired.text
    expect(page.get_by_text("Connected", exact=True)).to_be_visible(timeout=15_000)
    expect(page.locator("[data-channel-status]")).to_have_text("WORKING")
    assert console.api.get(f"/channels/{channel['id']}").json()["status"] == "WORKING"


def test_it_speaks_the_browsers_language_and_switches(browser: Browser, console: Console) -> None:
    """Accept-Language pt-BR gives Portuguese, with numbers and dates per locale; the switch gives English."""
    context = open_context(browser, console, locale="pt-BR")
    page = context.new_page()
    page.goto("/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Entrar")
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Visão geral")
    expect(page.get_by_text("Horários em America/Sao_Paulo")).to_be_visible()
    shoot(page, "overview-pt-BR")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    page.goto("/console/chronos/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Chronos")
    expect(page.get_by_label("Search")).to_be_visible()
    context.close()


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


PAGES = ["/console/", "/console/chronos/", "/console/chronos/new", "/console/functions/", "/console/functions/new",
         "/console/channels/", "/console/contacts/", "/console/campaigns/", "/console/campaigns/new"]

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length && [...e.labels].some(l => l.textContent.trim())))
    .map(e => e.name || e.id)"""
NO_ALT = "() => [...document.querySelectorAll('img')].filter(i => !i.getAttribute('alt')).map(i => i.src)"
MUTE_ACTIONS = """() => [...document.querySelectorAll('button, a')].filter(e => !e.textContent.trim())
    .map(e => e.outerHTML)"""


def test_every_page_labels_its_inputs_and_describes_its_images(page: Page, console: Console) -> None:
    """No input without a visible label, no image without alt text, one h1, no action without text."""
    chrono = create_http_chrono(console, "a11y", "http://127.0.0.1:9/")
    function = console.api.post("/functions", json={"name": "a11y", "code": "def run(ctx):\n    return 1\n"}).json()
    contact = console.api.post("/contacts", json={"phone": "+55 11 97900-0001", "tags": ["a11y"]})
    channel = console.api.post("/channels", json={"name": "a11y", "provider": "WAHA", "config": {"session": "a11y"}})
    campaign = console.api.post("/campaigns", json={"name": "a11y", "channelIds": [channel.json()["id"]],
                                                    "messageTemplate": "Oi", "audience": {"tags": ["a11y"]}})
    assert contact.status_code == 201 and campaign.status_code == 201, campaign.text
    visited = [*PAGES, f"/console/chronos/{chrono['id']}", f"/console/chronos/{chrono['id']}/edit",
               f"/console/functions/{function['id']}", f"/console/campaigns/{campaign.json()['id']}"]
    for path in visited:
        page.goto(path)
        assert page.locator("h1").count() == 1, path
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(NO_ALT) == [], path
        assert page.evaluate(MUTE_ACTIONS) == [], path
        shoot(page, "page" + re.sub(r"[0-9a-f-]{36}", "id", path).replace("/", "-").rstrip("-"))
    page.goto("/console/")
    assert page.locator("svg.chart[role=img] title").count() >= 1
