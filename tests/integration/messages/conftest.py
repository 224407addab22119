"""WhatsApp end to end: the stack, a live API server for webhooks, and the fake gateway.

- ``wa``: a :class:`WhatsAppStack` — the core ``stack`` configured for the fake gateway (API
  settings and worker environment), the API also served over real HTTP on 127.0.0.1 so the fake
  can post its webhooks, and helpers to create channels and MESSAGE chronos and run them;
- ``provider``: each provider in turn (``"WAHA"``, ``"EVOLUTION"``).
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from chronoflow.api.app import create_app
from chronoflow.channels import sign_waha_body
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from chronoflow.store.models import Channel, InboundEvent, OptOut
from tests.integration.conftest import Stack

API_KEY = "wa-api-key"
HMAC_KEY = "wa-hmac-key"
EVOLUTION_SECRET = "wa-evolution-secret"

ANA = "+55 11 98765-4321"
ANA_DIGITS = "5511987654321"
BRUNO = "+55 21 99876-5432"
BRUNO_DIGITS = "5521998765432"
CARLA = "+1 415 555 0134"
CARLA_DIGITS = "14155550134"


class LiveApi:
    """The ChronoFlow API served by uvicorn in a thread, on a socket bound before the app exists."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self._thread.start()
        pause = threading.Event()
        for _ in range(1500):  # 30 s: a machine busy with the rest of the suite once took more than 4
            if self._server.started:
                return
            pause.wait(0.02)
        raise RuntimeError("the API server did not start within 30 s")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self.sock.close()


class WhatsAppStack:
    """The stack plus the fake gateway, and the steps WhatsApp tests repeat."""

    def __init__(self, stack: Stack, fake: FakeWhatsApp, live: LiveApi) -> None:
        self.stack = stack
        self.fake = fake
        self.live = live
        self.extra_apis: list[LiveApi] = []

    def start_api(self, **overrides: Any) -> LiveApi:
        """Another live API on the same database and Redis, with some settings changed (stopped at the end)."""
        other = LiveApi()
        self.extra_apis.append(other)
        other.start(create_app(dataclasses.replace(self.stack.settings, **overrides), self.stack.redis_url,
                               self.stack.database_url))
        return other

    def post_webhook(self, provider: str, body: dict[str, Any], base_url: str | None = None) -> httpx.Response:
        """POST ``body`` to the provider's webhook route, signed or carrying the secret as the gateway does."""
        raw = json.dumps(body).encode()
        if provider == "WAHA":
            headers = {"X-Webhook-Hmac": sign_waha_body(raw, HMAC_KEY)}
        else:
            headers = {"X-Webhook-Secret": EVOLUTION_SECRET}
        path = "/waha/webhooks" if provider == "WAHA" else "/evolution/webhooks"
        return httpx.post((base_url or self.live.url) + path, content=raw,
                          headers={"Content-Type": "application/json", **headers}, timeout=10)

    @property
    def api(self) -> Any:
        return self.stack.api

    def webhook_url(self, provider: str) -> str:
        return self.live.url + ("/waha/webhooks" if provider == "WAHA" else "/evolution/webhooks")

    def create_channel(self, provider: str, session: str = "default", **fields: Any) -> dict[str, Any]:
        key = "session" if provider == "WAHA" else "instance"
        body = {"name": f"{provider.lower()}-{session}", "provider": provider, "config": {key: session}, **fields}
        response = self.api.post("/channels", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def create_message_chrono(self, channel_id: str, recipients: list[Any], template: str = "Olá {{phone}}",
                              cron: str = "*/5 * * * *", **fields: Any) -> dict[str, Any]:
        body = {"name": "msg", "cron": cron, "targetType": "MESSAGE", "channelId": channel_id,
                "messageTemplate": template, "recipients": recipients, **fields}
        response = self.api.post("/chronos", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def run_due(self, chrono_id: str) -> None:
        """Hand the chrono's next occurrence to the queue and run it with a real worker process."""
        self.stack.run_due(chrono_id)

    def run_retries(self, chrono_id: str, attempts: int) -> None:
        """Let the worker's retries of the current occurrence run until ``attempts`` runs exist."""
        for count in range(2, attempts + 1):
            self.stack.wait_until(lambda c=count: self.stack.hand_over() or len(self.stack.runs(chrono_id)) >= c,
                                  timeout=10)
            self.stack.drain()

    def fake_control(self, route: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.fake.url}/_fake/{route}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def inbound(self, provider: str, sender: str, text: str, session: str = "default") -> dict[str, Any]:
        """A person writes to the session; returns the fake's webhook deliveries."""
        return self.fake_control("inbound", provider=provider.lower(), session=session, **{"from": sender, "text": text})

    def channel_status(self, channel_id: str) -> str:
        return str(self.api.get(f"/channels/{channel_id}").json()["status"])

    def counts(self) -> dict[str, int]:
        """Rows of the WhatsApp tables."""
        async def count() -> dict[str, int]:
            async with self.stack.db.session() as session:
                return {model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
                        for model in (Channel, InboundEvent, OptOut)}
        return self.stack.db_run(count())

    def opt_outs(self) -> list[OptOut]:
        async def load() -> list[OptOut]:
            async with self.stack.db.session() as session:
                return list(await session.scalars(select(OptOut)))
        return self.stack.db_run(load())

    def events(self) -> list[InboundEvent]:
        async def load() -> list[InboundEvent]:
            async with self.stack.db.session() as session:
                return list(await session.scalars(select(InboundEvent).order_by(InboundEvent.received_at)))
        return self.stack.db_run(load())


@pytest.fixture
def wa(stack: Stack) -> Iterator[WhatsAppStack]:
    """The stack wired to a fake WAHA + Evolution gateway whose webhooks reach a live API."""
    live = LiveApi()
    fake = FakeWhatsApp(
        api_key=API_KEY, webhook_url=live.url + "/waha/webhooks", evolution_webhook_url=live.url + "/evolution/webhooks",
        hmac_key=HMAC_KEY, evolution_secret=EVOLUTION_SECRET,
    ).start()
    overrides = {
        "waha_base_url": fake.url, "waha_api_key": API_KEY, "waha_webhook_hmac_key": HMAC_KEY,
        "evolution_base_url": fake.url, "evolution_api_key": API_KEY, "evolution_webhook_secret": EVOLUTION_SECRET,
        "http_max_retries": 1, "public_base_url": live.url,
    }
    stack.settings = dataclasses.replace(stack.settings, **overrides)
    stack.env.update({name.upper(): str(value) for name, value in overrides.items()})
    live.start(create_app(stack.settings, stack.redis_url, stack.database_url))
    wa = WhatsAppStack(stack, fake, live)
    try:
        yield wa
    finally:
        for other in wa.extra_apis:
            other.stop()
        live.stop()
        fake.stop()


@pytest.fixture(params=["WAHA", "EVOLUTION"])
def provider(request: pytest.FixtureRequest) -> str:
    """Each provider in turn."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL runs these tests with WAHA only: what differs between providers is the gateway's
    HTTP, covered for both on SQLite; what differs between databases is the claim and the run
    records, which do not depend on the provider. Every other pairing would double the time for
    nothing it could catch."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        here = Path(str(item.path)).is_relative_to(Path(__file__).parent)  # the hook sees every item of the run
        both = here and "provider" in params and "database_url" in params
        redundant = both and params["database_url"] == "postgres" and params["provider"] == "EVOLUTION"
        (dropped if redundant else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
