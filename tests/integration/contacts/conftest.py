"""Fixtures of the audience tests: the API on a migrated database (see ``tests/integration/conftest.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from chronoflow.channels.optout_store import record_opt_out
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from tests.integration.conftest import Stack


def opt_out(stack: Stack, number: str) -> None:
    """Record an opt-out the way an inbound PARE does."""
    async def record() -> None:
        async with stack.db.session() as session:
            await record_opt_out(session, number, channel_id=None, source="test")
    stack.db_run(record())


def contact(stack: Stack, **fields: Any) -> dict[str, Any]:
    """Create a contact through the API; its JSON."""
    response = stack.api.post("/contacts", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


GATEWAY_KEY = "contacts-gateway-key"


@pytest.fixture
def gateway_stack(sqlite_stack: Stack) -> Iterator[tuple[Stack, FakeWhatsApp]]:
    """The SQLite stack with both providers' base URLs pointing at a running fake gateway."""
    with FakeWhatsApp(api_key=GATEWAY_KEY) as fake:
        overrides = {"waha_base_url": fake.url, "waha_api_key": GATEWAY_KEY, "evolution_base_url": fake.url,
                     "evolution_api_key": GATEWAY_KEY, "http_max_retries": 0}
        sqlite_stack.settings = dataclasses.replace(sqlite_stack.settings, **overrides)
        yield sqlite_stack, fake
