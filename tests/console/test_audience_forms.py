"""The contacts and campaign forms without a browser: refusals name their field and write nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.console.conftest import TOKEN, Console

# In the browser tests' process: the console they start is shared, not started twice.
pytestmark = pytest.mark.xdist_group("console")

CSRF = "c" * 40


@pytest.fixture
def signed_in(console: Console) -> Iterator[httpx.Client]:
    """A client holding the console's session and CSRF cookies, as a signed-in browser does."""
    with httpx.Client(base_url=console.url, cookies={"cf_session": TOKEN, "cf_csrf": CSRF}, timeout=10) as client:
        yield client


def _field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'id="error-(\w+)"[^>]*>([^<]*)<', html))


def _campaign_names(console: Console) -> list[str]:
    return [c["name"] for c in console.api.get("/campaigns", params={"take": 100}).json()["items"]]


def test_an_import_without_the_forms_token_is_refused_and_imports_nothing(signed_in: httpx.Client,
                                                                        console: Console) -> None:
    """It answers 403 to a cross-site post, and 422 naming ``file`` when no file came."""
    csv = b"phone,name\n+55 11 97800-0001,Forged\n"
    forged = signed_in.post("/console/contacts/import", files={"file": ("x.csv", csv, "text/csv")})
    assert forged.status_code == 403
    assert console.api.get("/contacts", params={"q": "97800"}).json()["total"] == 0
    empty = signed_in.post("/console/contacts/import", data={"csrf": CSRF})
    assert empty.status_code == 422 and "file" in _field_errors(empty.text)


def test_a_refused_campaign_form_names_the_field_and_creates_nothing(signed_in: httpx.Client,
                                                                     console: Console) -> None:
    """A closed window, a non-number delay and an unknown tag are each shown beside their input; no campaign."""
    console.api.post("/contacts", json={"phone": "+55 11 97800-0002", "name": "Eva", "tags": ["forms"]})
    channel = console.api.post("/channels", json={"name": "forms", "provider": "WAHA",
                                                  "config": {"session": "forms"}}).json()
    form = {"csrf": CSRF, "name": "refused", "channelIds": channel["id"], "messageTemplate": "Oi {{name}}",
            "tags": "forms", "windowStart": "18:00", "windowEnd": "08:00"}
    cases = [({}, "window", "window.end"), ({"windowStart": "", "windowEnd": "", "delayMinSeconds": "soon"},
                                            "delayMinSeconds", "must be a number"),
             ({"windowStart": "", "windowEnd": "", "tags": "nobody"}, "audience", "unknown tag 'nobody'")]
    for change, field, words in cases:
        answer = signed_in.post("/console/campaigns/new", data={**form, **change})
        assert answer.status_code == 422, answer.text
        assert words in _field_errors(answer.text).get(field, "").replace("&#39;", "'"), (field, answer.text[-2000:])
    assert "refused" not in _campaign_names(console)
    preview = signed_in.post("/console/campaigns/preview", data={"csrf": CSRF, "tags": "nobody"},
                             headers={"Accept": "application/json"})
    assert preview.status_code == 422 and preview.json()["field"] == "audience.tags"


def test_the_overview_lists_a_sending_campaign_with_its_progress(signed_in: httpx.Client, console: Console) -> None:
    """A started campaign shows under "Campaigns sending now" with its rows done out of its total; once
    cancelled it no longer does."""
    console.api.post("/contacts", json={"phone": "+55 11 97800-0003", "name": "Lia", "tags": ["overview-now"]})
    channel = console.api.post("/channels", json={"name": "overview", "provider": "WAHA",
                                                  "config": {"session": "overview"}}).json()
    made = console.api.post("/campaigns", json={"name": "sending now", "channelIds": [channel["id"]],
                                                "messageTemplate": "Oi", "audience": {"tags": ["overview-now"]}})
    campaign = made.json()
    started = signed_in.post(f"/console/campaigns/{campaign['id']}/start", data={"csrf": CSRF})
    assert started.status_code == 303 and console.api.get(f"/campaigns/{campaign['id']}").json()["status"] == "sending"
    section = signed_in.get("/console/").text.split("Campaigns sending now", 1)[1]
    assert "sending now</a>" in section and re.search(r'<progress value="0" max="1"', section), section[:1500]
    assert signed_in.post(f"/console/campaigns/{campaign['id']}/cancel", data={"csrf": CSRF}).status_code == 303
    assert "sending now</a>" not in signed_in.get("/console/").text.split("Campaigns sending now", 1)[1]
