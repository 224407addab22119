"""Build the provider client a channel describes: one place that knows both providers.

A ``Channel`` row stores ``provider`` (``WAHA`` or ``EVOLUTION``) and a ``config`` object in the
camelCase of the REST API::

    WAHA:       {"session": "default",   "baseUrl": "http://waha:3000", "apiKey": "..."}
    EVOLUTION:  {"instance": "vendas",   "baseUrl": "http://evo:8080",  "apiKey": "..."}

``baseUrl`` and ``apiKey`` are optional (the key may also live in ``Channel.api_key``) and
default to ``WAHA_BASE_URL``/``WAHA_API_KEY`` or ``EVOLUTION_BASE_URL``/``EVOLUTION_API_KEY``, so
most channels only name their session. The global key is a credential for the global server only:
a channel with its own ``baseUrl`` (another server) and no key of its own sends no key at all.
:func:`provider_for_channel` makes no network call; the API can use it to validate a channel
before writing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from chronoflow.channels.base import SESSION_KEYS, ProviderKind, WhatsAppProvider
from chronoflow.channels.evolution import EvolutionClient
from chronoflow.channels.transport import RetryPolicy
from chronoflow.channels.validation import check_api_key, check_base_url, check_session_name, same_server
from chronoflow.channels.waha import WahaClient
from chronoflow.config import Settings, get_settings
from chronoflow.errors import InvalidInput

__all__ = ["provider_for_channel"]


def provider_for_channel(
    provider: str | ProviderKind,
    config: Mapping[str, Any],
    settings: Settings | None = None,
    *,
    api_key: str | None = None,
    client: httpx.AsyncClient | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WhatsAppProvider:
    """The client for a channel's provider and config.

    Args:
        provider: ``"WAHA"`` or ``"EVOLUTION"`` (case-insensitive).
        config: the channel's config (see the module docstring).
        settings: defaults for the base URL, API key and retry policy; the process settings
            when omitted.
        api_key: the channel's own key (``Channel.api_key``); wins over ``config.apiKey``. Without
            either, the settings' key is sent only when the base URL is the settings' one.
        client: a shared ``httpx.AsyncClient``.
        policy: overrides the policy built from ``HTTP_MAX_RETRIES``/``HTTP_REQUEST_TIMEOUT_MS``.
        sleep: backoff wait, replaceable in tests.

    Returns:
        An unopened client; close it with ``aclose()`` or ``async with``.

    Raises:
        InvalidInput: unknown provider or unusable config; ``field`` names the culprit.
    """
    settings = settings or get_settings()
    try:
        kind = ProviderKind(str(provider).upper())
    except ValueError:
        raise InvalidInput("provider", f"must be one of {', '.join(k.value for k in ProviderKind)}") from None
    if not isinstance(config, Mapping):
        raise InvalidInput("config", "must be an object")

    session_key = SESSION_KEYS[kind]
    session = config.get(session_key, config.get("session") if kind is ProviderKind.EVOLUTION else None)
    if kind is ProviderKind.WAHA and session is None:
        session = "default"  # WAHA Core serves exactly one session, named "default"
    session = check_session_name(session, f"config.{session_key}")

    default_url, default_key = (
        (settings.waha_base_url, settings.waha_api_key)
        if kind is ProviderKind.WAHA
        else (settings.evolution_base_url, settings.evolution_api_key)
    )
    own_url = config.get("baseUrl")
    base_url = check_base_url(own_url, "config.baseUrl") if own_url else default_url
    own_key = check_api_key(api_key, "apiKey") or check_api_key(config.get("apiKey"), "config.apiKey")
    key = own_key or (default_key if same_server(base_url, default_url) else None)

    policy = policy or RetryPolicy.from_settings(settings)
    client_class = WahaClient if kind is ProviderKind.WAHA else EvolutionClient
    return client_class(base_url, session, key, policy=policy, client=client, sleep=sleep)
