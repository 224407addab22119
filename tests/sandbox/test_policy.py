"""Limits, policy and the pure checks behind them."""

from __future__ import annotations

import pytest

from chronoflow.config import Settings
from chronoflow.sandbox import FunctionLimits, SandboxPolicy
from chronoflow.sandbox.policy import PolicyViolation, address_is_public, check_url, normalize_recipient


def test_limits_from_json():
    """It allows camelCase limits, keeping defaults for missing ones."""
    limits = FunctionLimits.from_json({"timeoutMs": 2000, "maxHttp": 3})
    assert limits.timeout_ms == 2000 and limits.max_http == 3 and limits.max_memory_mb == 256
    assert FunctionLimits.from_json(limits.to_json()) == limits


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"timeoutMs": 10**9}, "functionLimits.timeoutMs"),
        ({"maxMemoryMb": 1}, "functionLimits.maxMemoryMb"),
        ({"maxHttp": "5"}, "functionLimits.maxHttp"),
        ({"maxMessages": True}, "functionLimits.maxMessages"),
        ({"maxStateBytes": 10**9}, "functionLimits.maxStateBytes"),
        ({"cpu": 1}, "functionLimits.cpu"),
    ],
)
def test_limits_validation_names_the_field(data, field):
    """It denies out-of-bounds, non-integer or unknown limits, naming the field."""
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        FunctionLimits.from_json(data)


def test_policy_from_settings(monkeypatch):
    """It allows building the policy from the environment, exposing only allowlisted variables."""
    monkeypatch.setenv("FUNCTION_HTTP_ALLOWLIST", "api.example.com, *.Example.org")
    monkeypatch.setenv("FUNCTION_HTTP_PRIVATE_HOSTS", "internal.example.com")
    monkeypatch.setenv("FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST", "5511,5521")
    monkeypatch.setenv("FUNCTION_RATE_LIMIT_PER_SECOND", "4")
    monkeypatch.setenv("FUNCTION_ENV_ALLOWLIST", "PUBLIC_NAME,MISSING")
    monkeypatch.setenv("PUBLIC_NAME", "acme")
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret")
    policy = SandboxPolicy.from_settings(Settings())
    assert policy.http_allowlist == ("api.example.com", "*.example.org")
    assert policy.private_hosts == ("internal.example.com",)
    assert policy.recipient_allowlist == ("5511", "5521")
    assert policy.rate_limit_per_second == 4
    assert dict(policy.env) == {"PUBLIC_NAME": "acme"}


def test_host_matching():
    """It allows exact hosts and subdomains of *.domain, never look-alikes or the apex."""
    policy = SandboxPolicy(http_allowlist=("api.example.com", "*.example.org"))
    assert policy.host_allowed("api.example.com")
    assert policy.host_allowed("a.b.example.org")
    assert not policy.host_allowed("example.org")
    assert not policy.host_allowed("badexample.org")
    assert not policy.host_allowed("api.example.com.evil.net")


def test_empty_recipient_allowlist_denies_all():
    """It denies every recipient when the allowlist is empty."""
    assert not SandboxPolicy().recipient_allowed("5511999990001")


def test_recipient_normalization():
    """It allows one plainly written number and returns its digits."""
    assert normalize_recipient("+55 (11) 99999-0001") == "5511999990001"
    with pytest.raises(PolicyViolation):
        normalize_recipient("5511999990001@c.us")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:127.0.0.1",
                                     "fe80::1", "0.0.0.0", "100.64.0.1", "224.0.0.1", "192.168.0.1"])
def test_non_public_addresses(address):
    """It denies loopback, private, link-local, shared, multicast and mapped addresses."""
    assert not address_is_public(address)


def test_public_address():
    """It allows a global address."""
    assert address_is_public("8.8.8.8")


def test_check_url_normalizes_host():
    """It allows http(s) URLs and normalizes the host and port."""
    _, host, port = check_url("HTTPS://API.Example.com./x")
    assert (host, port) == ("api.example.com", 443)
