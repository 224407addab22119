"""Fixtures of the audience tests: the API on a migrated database (see ``tests/integration/conftest.py``)."""

from __future__ import annotations

from typing import Any

from chronoflow.channels.optout_store import record_opt_out
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
