"""FUNCTION chronos and ``/functions`` end to end: the core ``stack``, real sandbox, real worker process.

- ``fn``: a :class:`FunctionStack` with helpers to upload functions, create FUNCTION chronos, run
  them with a burst worker and count function rows;
- ``billing``: ``fn`` configured as an operator would for the billing-reminder example: the
  loopback test server allowed (``FUNCTION_HTTP_ALLOWLIST`` + ``FUNCTION_HTTP_PRIVATE_HOSTS``),
  Brazilian numbers allowed as recipients, a fake WhatsApp gateway and a WORKING channel row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from chronoflow.store.models import Channel, Function
from tests.integration.conftest import Stack
from tests.services import HttpReceiver

WA_KEY = "functions-wa-key"


class FunctionStack:
    """The stack plus the steps function tests repeat."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    @property
    def api(self) -> Any:
        return self.stack.api

    def upload(self, code: str, name: str = "fn", **fields: Any) -> dict[str, Any]:
        response = self.api.post("/functions", json={"name": name, "code": code, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def create_chrono(self, cron: str = "*/5 * * * *", **fields: Any) -> dict[str, Any]:
        body = {"name": "fn-chrono", "cron": cron, "targetType": "FUNCTION", **fields}
        response = self.api.post("/chronos", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def run_due(self, chrono_id: str) -> None:
        """Hand the chrono's next occurrence to the queue and run it with a real worker process."""
        self.stack.run_due(chrono_id)

    def trigger(self, chrono_id: str) -> None:
        """A manual run, executed by a real worker process."""
        response = self.api.post(f"/chronos/{chrono_id}/trigger")
        assert response.status_code == 202, response.text
        self.stack.drain()

    def function_count(self) -> int:
        async def count() -> int:
            async with self.stack.db.session() as session:
                return int(await session.scalar(select(func.count()).select_from(Function)) or 0)
        return int(self.stack.db_run(count()))

    def snapshot(self) -> tuple[Any, ...]:
        """Rows and Redis state that bad input must leave unchanged."""
        return self.stack.row_counts(), self.function_count(), self.stack.redis_snapshot()

    def add_channel(self, base_url: str, api_key: str) -> str:
        """A WORKING WAHA channel row, written directly (as the /channels API would)."""
        async def add() -> str:
            async with self.stack.db.session() as session:
                channel = Channel(name="billing", provider="WAHA", status="WORKING",
                                  config={"session": "default", "baseUrl": base_url}, api_key=api_key)
                session.add(channel)
                await session.flush()
                return channel.id
        return str(self.stack.db_run(add()))

    def configure(self, **overrides: Any) -> None:
        """Operator settings for both the API (before its first use) and the worker processes."""
        self.stack.settings = dataclasses.replace(self.stack.settings, **overrides)
        for name, value in overrides.items():
            self.stack.env[name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)


@pytest.fixture
def fn(stack: Stack) -> FunctionStack:
    return FunctionStack(stack)


@pytest.fixture
def sqlite_fn(sqlite_stack: Stack) -> FunctionStack:
    return FunctionStack(sqlite_stack)


@dataclasses.dataclass
class Billing:
    fn: FunctionStack
    users: HttpReceiver
    whatsapp: FakeWhatsApp
    channel_id: str


@pytest.fixture
def billing(fn: FunctionStack, http_receiver: HttpReceiver) -> Iterator[Billing]:
    fn.configure(function_http_allowlist=("127.0.0.1",), function_http_private_hosts=("127.0.0.1",),
                 function_message_recipient_allowlist=("55",), http_max_retries=0)
    with FakeWhatsApp(api_key=WA_KEY) as whatsapp:
        yield Billing(fn, http_receiver, whatsapp, fn.add_channel(whatsapp.url, WA_KEY))
