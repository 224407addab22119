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
    monkeypatch.setenv("FUNCTION_SANDBOX_REQUIRED_LAYERS", "rlimits,landlock")
    policy = SandboxPolicy.from_settings(Settings.from_env())
    assert policy.http_allowlist == ("api.example.com", "*.example.org")
    assert policy.private_hosts == ("internal.example.com",)
    assert policy.recipient_allowlist == ("5511", "5521")
    assert policy.rate_limit_per_second == 4
    assert dict(policy.env) == {"PUBLIC_NAME": "acme"}
    assert policy.required_layers == ("rlimits", "landlock")


def test_policy_accepts_recipient_prefixes_as_people_write_them(monkeypatch):
    """It allows +5511, "55 11" and "+55 (11)" as the prefix 5511, from settings and directly."""
    monkeypatch.setenv("FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST", "+5511, 55 21,+55 (31)")
    assert SandboxPolicy.from_settings(Settings.from_env()).recipient_allowlist == ("5511", "5521", "5531")
    assert SandboxPolicy(recipient_allowlist=("+55-41", "5551")).recipient_allowlist == ("5541", "5551")
    with pytest.raises(ValueError, match="no digit"):
        SandboxPolicy(recipient_allowlist=("+",))
    with pytest.raises(ValueError, match="phone prefix"):
        SandboxPolicy(recipient_allowlist=("55abc",))


@pytest.mark.parametrize("uid", [0, -1, 2**32 - 1])
def test_policy_refuses_a_privileged_or_invalid_sandbox_uid(uid):
    """It denies a sandbox uid of root (0), below it, or the kernel's "no user" value."""
    with pytest.raises(ValueError, match="sandbox_uid"):
        SandboxPolicy(sandbox_uid=uid)


def test_policy_required_layers():
    """It allows the known layer names (default: what a default container grants) and refuses others."""
    assert SandboxPolicy().required_layers == ("rlimits", "no-new-privs", "seccomp", "setuid")
    policy = SandboxPolicy(required_layers=("seccomp", "landlock", "seccomp"))
    assert policy.required_layers == ("seccomp", "landlock")
    assert policy.missing_layers(("process-group", "seccomp")) == ("landlock",)
    with pytest.raises(ValueError, match="'selinux'"):
        SandboxPolicy(required_layers=("rlimits", "selinux"))


def test_layer_names_match_the_settings():
    """It allows exactly the layer names FUNCTION_SANDBOX_REQUIRED_LAYERS accepts, and the same default."""
    from chronoflow.config import SANDBOX_LAYERS
    from chronoflow.sandbox.policy import DEFAULT_REQUIRED_LAYERS, REQUIRABLE_LAYERS

    assert set(SANDBOX_LAYERS) == REQUIRABLE_LAYERS
    assert Settings().function_sandbox_required_layers == DEFAULT_REQUIRED_LAYERS


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
                                     "fe80::1", "0.0.0.0", "100.64.0.1", "224.0.0.1", "192.168.0.1",
                                     "64:ff9b::a9fe:a9fe", "::a9fe:a9fe", "2002:a9fe:a9fe::1",
                                     "168.63.129.16", "fd00:ec2::254"])
def test_non_public_addresses(address):
    """It denies loopback, private, link-local, shared, multicast, metadata and IPv4-carrying addresses."""
    assert not address_is_public(address)


def test_public_address():
    """It allows a global address."""
    assert address_is_public("8.8.8.8")


def test_check_url_normalizes_host():
    """It allows http(s) URLs and normalizes the host and port."""
    _, host, port = check_url("HTTPS://API.Example.com./x")
    assert (host, port) == ("api.example.com", 443)
