"""Campaign fixtures: the SQLite stack, the fake gateway with its webhooks reaching a live API, and helpers.

- ``cwa``: a :class:`~tests.integration.messages.conftest.WhatsAppStack` on SQLite, for tests that
  spawn worker and scheduler processes; ``cwa_db``: the same on each backend, for the API and
  single send steps;
- :func:`import_contacts`, :func:`create_campaign`, :func:`rows`, :func:`wait_for_campaign`,
  :func:`assert_counters_equal_rows`: the steps and checks campaign tests repeat.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from chronoflow.api.app import create_app
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from chronoflow.store.models import CampaignRecipient
from tests.integration.conftest import Stack
from tests.integration.messages.conftest import API_KEY, EVOLUTION_SECRET, HMAC_KEY, LiveApi, WhatsAppStack


@contextmanager
def wired(stack: Stack, sessions: tuple[str, ...] = ("default",)) -> Iterator[WhatsAppStack]:
    """``stack`` wired to a fake WAHA + Evolution gateway (``sessions`` WORKING on both) whose webhooks
    reach a live API."""
    live = LiveApi()
    fake = FakeWhatsApp(
        api_key=API_KEY, webhook_url=live.url + "/waha/webhooks", evolution_webhook_url=live.url + "/evolution/webhooks",
        hmac_key=HMAC_KEY, evolution_secret=EVOLUTION_SECRET, sessions=sessions,
    ).start()
    overrides = {
        "waha_base_url": fake.url, "waha_api_key": API_KEY, "waha_webhook_hmac_key": HMAC_KEY,
        "evolution_base_url": fake.url, "evolution_api_key": API_KEY, "evolution_webhook_secret": EVOLUTION_SECRET,
        "http_max_retries": 0, "public_base_url": live.url,
    }
    stack.settings = dataclasses.replace(stack.settings, **overrides)
    stack.env.update({name.upper(): str(value) for name, value in overrides.items()})
    live.start(create_app(stack.settings, stack.redis_url, stack.database_url))
    try:
        yield WhatsAppStack(stack, fake, live)
    finally:
        live.stop()
        fake.stop()


@pytest.fixture
def cwa(sqlite_stack: Stack) -> Iterator[WhatsAppStack]:
    """The wired SQLite stack, for tests that spawn worker and scheduler processes."""
    with wired(sqlite_stack) as wa:
        yield wa


@pytest.fixture
def cwa_db(stack: Stack) -> Iterator[WhatsAppStack]:
    """The wired stack on each backend (SQLite, PostgreSQL), for the API and single steps."""
    with wired(stack) as wa:
        yield wa


def phone(index: int) -> str:
    """A distinct valid Brazilian mobile per index."""
    return f"55119{index:08d}"


def import_contacts(cwa: WhatsAppStack, lines: list[str]) -> None:
    """Import CSV ``lines`` (header ``phone,name,tags,plano``) through the API."""
    body = "phone,name,tags,plano\n" + "\n".join(lines) + "\n"
    response = cwa.api.post("/contacts/import", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200 and not response.json()["rejected"], response.text


def create_campaign(cwa: WhatsAppStack, channel_ids: list[str], **fields: Any) -> dict[str, Any]:
    body = {"name": "promo", "channelIds": channel_ids, "messageTemplate": "Olá {{name}}",
            "audience": {"tags": ["a"]}, **fields}
    response = cwa.api.post("/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def rows(cwa: WhatsAppStack, campaign_id: str) -> list[CampaignRecipient]:
    async def load() -> list[CampaignRecipient]:
        async with cwa.stack.db.session() as session:
            return list(await session.scalars(select(CampaignRecipient)
                                              .where(CampaignRecipient.campaign_id == campaign_id)))
    return cwa.stack.db_run(load())


def campaign_state(cwa: WhatsAppStack, campaign_id: str) -> dict[str, Any]:
    """The campaign as ``GET /campaigns/{id}`` shows it."""
    return dict(cwa.api.get(f"/campaigns/{campaign_id}").json())


def wait_for_campaign(cwa: WhatsAppStack, campaign_id: str, check: Any, timeout: float = 60) -> dict[str, Any]:
    """The campaign once ``check`` accepts it; fails after ``timeout`` seconds."""
    def ready() -> dict[str, Any] | None:
        campaign = campaign_state(cwa, campaign_id)
        return campaign if check(campaign) else None
    return dict(cwa.stack.wait_until(ready, timeout=timeout, interval=0.1))


def assert_counters_equal_rows(cwa: WhatsAppStack, campaign_id: str) -> Counter[str]:
    """The campaign's counters are its rows counted by status; returns that count."""
    counted = Counter(r.status for r in rows(cwa, campaign_id))
    shown = campaign_state(cwa, campaign_id)
    for status in ("pending", "sending", "sent", "delivered", "read", "failed", "skipped", "uncertain"):
        assert shown[status] == counted.get(status, 0), status
    assert shown["total"] == sum(counted.values())
    return counted
