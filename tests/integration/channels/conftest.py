"""Fixtures for the provider clients against the real fake gateway on 127.0.0.1.

- ``fake``: a started :class:`FakeWhatsApp` requiring ``API_KEY``, signing WAHA webhooks with
  ``HMAC_KEY`` and sending ``EVOLUTION_SECRET``, posting every webhook to ``http_receiver``'s
  ``/hooks/waha`` or ``/hooks/evolution``;
- ``delays``: the backoff waits a client asked for, recorded instead of slept;
- ``make_client``: builds a WAHA or Evolution client for the fake, fast retry policy included;
- ``provider``: parametrizes a test over both providers.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from chronoflow.channels import EvolutionClient, RetryPolicy, WahaClient, WhatsAppProvider
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp

API_KEY = "test-api-key"
HMAC_KEY = "test-hmac-key"
EVOLUTION_SECRET = "test-evolution-secret"

FAST = RetryPolicy(max_retries=2, backoff_s=0.5, max_backoff_s=8.0, timeout_s=2.0)
"""Two retries, backoff 0.5 s then 1 s — recorded by ``delays``, never slept."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake(http_receiver: Any) -> Iterator[FakeWhatsApp]:
    """The fake gateway, webhooks going to the test's receiver."""
    with FakeWhatsApp(
        api_key=API_KEY,
        webhook_url=f"{http_receiver.url}/hooks/waha",
        evolution_webhook_url=f"{http_receiver.url}/hooks/evolution",
        hmac_key=HMAC_KEY,
        evolution_secret=EVOLUTION_SECRET,
    ) as server:
        yield server


@pytest.fixture
def delays() -> list[float]:
    return []


ClientFactory = Callable[..., WhatsAppProvider]


@pytest.fixture
async def make_client(delays: list[float]) -> AsyncIterator[ClientFactory]:
    """``make_client(provider, base_url, session=, api_key=API_KEY, policy=FAST)``, closed at the end."""
    made: list[WhatsAppProvider] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    def build(
        provider: str,
        base_url: str,
        session: str = "default",
        api_key: str | None = API_KEY,
        policy: RetryPolicy = FAST,
    ) -> WhatsAppProvider:
        cls = WahaClient if provider == "waha" else EvolutionClient
        client = cls(base_url, session, api_key, policy=policy, sleep=record)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


@pytest.fixture(params=["waha", "evolution"])
def provider(request: pytest.FixtureRequest) -> str:
    """Each provider in turn."""
    return str(request.param)


@pytest.fixture
def send_path(provider: str) -> str:
    """Where the provider's send to session ``default`` goes, for counting attempts in the fake's log."""
    return {"waha": "/api/sendText", "evolution": "/message/sendText/default"}[provider]


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
