"""provider_for_channel and RetryPolicy: building clients from a channel row and the settings."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chronoflow.channels import EvolutionClient, ProviderError, RetryPolicy, WahaClient, provider_for_channel
from chronoflow.config import Settings
from chronoflow.errors import InvalidInput

SETTINGS = dataclasses.replace(
    Settings(),
    waha_base_url="http://waha.local:3000",
    waha_api_key="waha-key",
    evolution_base_url="http://evo.local:8080",
    evolution_api_key="evo-key",
    http_max_retries=4,
    http_request_timeout_ms=2500,
)


@pytest.mark.parametrize(
    ("provider", "config", "cls", "session", "base_url"),
    [
        ("WAHA", {}, WahaClient, "default", "http://waha.local:3000"),
        ("waha", {"session": "vendas", "baseUrl": "http://other:1/"}, WahaClient, "vendas", "http://other:1"),
        ("EVOLUTION", {"instance": "loja"}, EvolutionClient, "loja", "http://evo.local:8080"),
        ("evolution", {"session": "loja"}, EvolutionClient, "loja", "http://evo.local:8080"),
    ],
    ids=["waha-defaults", "waha-own-url", "evolution-instance", "evolution-session-alias"],
)
def test_it_builds_the_client(
    provider: str, config: dict[str, Any], cls: type, session: str, base_url: str
) -> None:
    """It picks the client by provider, the session from config and the rest from settings."""
    client = provider_for_channel(provider, config, SETTINGS)
    assert isinstance(client, cls)
    assert client.session == session
    assert client._http.base_url == base_url
    assert client._http.policy == RetryPolicy(max_retries=4, timeout_s=2.5)


def test_the_channel_key_wins() -> None:
    """It sends the channel's own key over the config's and the settings' one."""
    client = provider_for_channel("WAHA", {"apiKey": "from-config"}, SETTINGS, api_key="from-row")
    assert client._http._headers["X-Api-Key"] == "from-row"
    client = provider_for_channel("EVOLUTION", {"instance": "x", "apiKey": "from-config"}, SETTINGS)
    assert client._http._headers["apikey"] == "from-config"
    client = provider_for_channel("EVOLUTION", {"instance": "x"}, SETTINGS)
    assert client._http._headers["apikey"] == "evo-key"


@pytest.mark.parametrize(
    ("provider", "config", "field"),
    [
        ("SMS", {}, "provider"),
        ("WAHA", [], "config"),
        ("EVOLUTION", {}, "config.instance"),
        ("WAHA", {"session": "  "}, "config.session"),
        ("WAHA", {"baseUrl": "waha:3000"}, "config.baseUrl"),
        ("EVOLUTION", {"instance": "x", "apiKey": 123}, "config.apiKey"),
    ],
    ids=[
        "unknown-provider",
        "config-not-object",
        "no-instance",
        "blank-session",
        "url-without-scheme",
        "key-not-str",
    ],
)
def test_it_names_the_bad_field(provider: str, config: Any, field: str) -> None:
    """It raises InvalidInput naming the field, so the API answers a precise 422."""
    with pytest.raises(InvalidInput) as caught:
        provider_for_channel(provider, config, SETTINGS)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("retry", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (20, 8.0)],
    ids=lambda value: str(value),
)
def test_backoff_doubles_up_to_a_ceiling(retry: int, expected: float) -> None:
    """It doubles the delay on each retry and never waits more than max_backoff_s."""
    assert RetryPolicy(backoff_s=0.5, max_backoff_s=8.0).delay(retry) == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": -1}, {"backoff_s": -0.1}, {"timeout_s": 0}],
    ids=["retries", "backoff", "timeout"],
)
def test_policy_validates(kwargs: dict[str, float]) -> None:
    """It refuses a negative retry count or backoff and a zero timeout."""
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_provider_error_message() -> None:
    """It names provider, call and HTTP status in the message, and counts attempts only when > 1."""
    assert str(ProviderError("waha", "send_text", "boom", http_status=502, retryable=True, attempts=3)) == (
        "waha send_text: HTTP 502: boom (after 3 attempts)"
    )
    assert str(ProviderError("evolution", "qr", "no QR")) == "evolution qr: no QR"
