"""Session names, API keys and base URLs a channel may hold, and which server gets which key."""

from __future__ import annotations

import dataclasses

import pytest

from chronoflow.channels import check_api_key, check_base_url, check_session_name, provider_for_channel
from chronoflow.channels.validation import same_server
from chronoflow.config import Settings
from chronoflow.errors import InvalidInput

SETTINGS = dataclasses.replace(
    Settings(),
    waha_base_url="http://waha.local:3000",
    waha_api_key="global-waha-key",
    evolution_base_url="http://evo.local:8080",
    evolution_api_key="global-evo-key",
)

UNSAFE_NAMES = ["", "/", ".", "..", "a/b", "../default", "a\\b", " default", "minha loja", "tab\there",
                "line\nbreak", "nul\x00", "zero\u200bwidth", "nbsp\u00a0x", "x" * 201, None, 7]


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=repr)
def test_path_unsafe_session_names_are_refused(name: object) -> None:
    """It refuses names that are not exactly one URL path segment, naming the field."""
    with pytest.raises(InvalidInput) as caught:
        check_session_name(name, "config.session")
    assert caught.value.field == "config.session"


@pytest.mark.parametrize("name", ["default", "vendas-sp", "loja_2", "Açaí", "a.b", "...", "x" * 200])
def test_ordinary_session_names_pass(name: str) -> None:
    """It keeps names made of letters, digits, dots (not only one or two), dashes and underscores."""
    assert check_session_name(name, "name") == name


@pytest.mark.parametrize("key", ["xÙ", "chave\n", "tab\tkey", "emoji🔑", " padded", "padded ", "x" * 501, 12],
                         ids=repr)
def test_api_keys_that_cannot_be_a_header_are_refused(key: object) -> None:
    """It refuses keys with non-ASCII or control characters, edge spaces, wrong types or excess length."""
    with pytest.raises(InvalidInput) as caught:
        check_api_key(key, "apiKey")
    assert caught.value.field == "apiKey"


def test_api_key_none_and_empty_mean_no_key() -> None:
    """It reads None and "" as no key, and keeps a printable ASCII key as given."""
    assert check_api_key(None, "apiKey") is None
    assert check_api_key("", "apiKey") is None
    assert check_api_key("abc-DEF_123.~!", "apiKey") == "abc-DEF_123.~!"


@pytest.mark.parametrize("url", ["ftp://x", "waha:3000", "http://", "http://[::1/", "http://h:99999",
                                 "http://h:3000/?x=1", "http://user:pw@h", "http://hé", "http://a b"], ids=repr)
def test_unusable_base_urls_are_refused(url: str) -> None:
    """It refuses URLs without http(s), host or valid port, and URLs carrying credentials or queries."""
    with pytest.raises(InvalidInput) as caught:
        check_base_url(url, "config.baseUrl")
    assert caught.value.field == "config.baseUrl"


def test_same_server_ignores_trailing_slash_default_port_and_host_case() -> None:
    """It compares scheme, host, port and path the way a request would reach them."""
    assert same_server("http://WAHA.local:80/", "http://waha.local")
    assert not same_server("http://waha.local:3000", "http://waha.local:3001")
    assert not same_server("https://waha.local", "http://waha.local")
    assert not same_server("http://waha.local/a", "http://waha.local/b")


@pytest.mark.parametrize(
    ("provider", "config", "header", "expected"),
    [
        ("WAHA", {}, "X-Api-Key", "global-waha-key"),
        ("WAHA", {"baseUrl": "http://waha.local:3000/"}, "X-Api-Key", "global-waha-key"),
        ("WAHA", {"baseUrl": "http://elsewhere:3000"}, "X-Api-Key", None),
        ("WAHA", {"baseUrl": "http://elsewhere:3000", "apiKey": "own"}, "X-Api-Key", "own"),
        ("EVOLUTION", {"instance": "loja"}, "apikey", "global-evo-key"),
        ("EVOLUTION", {"instance": "loja", "baseUrl": "http://evo.local:9090"}, "apikey", None),
    ],
    ids=["waha-global", "waha-global-url-spelled-out", "waha-other-server", "waha-own-key",
         "evolution-global", "evolution-other-port"],
)
def test_the_global_key_goes_only_to_the_global_server(
    provider: str, config: dict[str, str], header: str, expected: str | None
) -> None:
    """It sends WAHA_API_KEY/EVOLUTION_API_KEY only to their base URL; another server gets its own key or none."""
    client = provider_for_channel(provider, config, SETTINGS)
    assert client._http._headers.get(header) == expected


def test_the_factory_refuses_a_bad_key_or_name_of_a_stored_channel() -> None:
    """It refuses, naming the field, a key or session a stored row may hold, before any request."""
    with pytest.raises(InvalidInput) as caught:
        provider_for_channel("WAHA", {"session": "default"}, SETTINGS, api_key="xÙ")
    assert caught.value.field == "apiKey"
    with pytest.raises(InvalidInput) as caught:
        provider_for_channel("EVOLUTION", {"instance": ".."}, SETTINGS)
    assert caught.value.field == "config.instance"
