"""Destination classification of the HTTP target: which addresses and names each setting refuses.

Nothing here sends a packet anywhere but loopback: addresses are judged as values, and the only
name resolved is ``localhost``.
"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from chronoflow.destinations import (
    DestinationPolicy,
    DestinationRefused,
    Kind,
    classify_address,
    classify_name,
    parse_address,
    resolve_checked,
)
from chronoflow.errors import InvalidInput
from chronoflow.targets.http import check_url

DEFAULT = DestinationPolicy()
SHARED = DestinationPolicy(deny_private=True)
CLOUD_OK = DestinationPolicy(allow_link_local=True)

ADDRESSES = [
    ("169.254.169.254", Kind.METADATA),
    ("169.254.170.2", Kind.METADATA),
    ("fd00:ec2::254", Kind.METADATA),
    ("100.100.100.200", Kind.METADATA),
    ("168.63.129.16", Kind.METADATA),
    ("169.254.1.1", Kind.LINK_LOCAL),
    ("fe80::1", Kind.LINK_LOCAL),
    ("febf:ffff::1", Kind.LINK_LOCAL),
    ("127.0.0.1", Kind.LOOPBACK),
    ("127.255.0.9", Kind.LOOPBACK),
    ("::1", Kind.LOOPBACK),
    ("10.1.2.3", Kind.PRIVATE),
    ("172.16.0.1", Kind.PRIVATE),
    ("192.168.1.10", Kind.PRIVATE),
    ("100.64.0.1", Kind.PRIVATE),
    ("fc00::1", Kind.PRIVATE),
    ("fd12:3456::1", Kind.PRIVATE),
    ("0.0.0.0", Kind.PRIVATE),
    ("::", Kind.PRIVATE),
    ("224.0.0.1", Kind.PRIVATE),
    ("ff02::1", Kind.PRIVATE),
    ("240.0.0.1", Kind.PRIVATE),
    ("8.8.8.8", Kind.PUBLIC),
    ("2606:4700:4700::1111", Kind.PUBLIC),
    # IPv6 spellings that carry an IPv4 destination are judged by it.
    ("::ffff:169.254.169.254", Kind.METADATA),
    ("::ffff:10.0.0.1", Kind.PRIVATE),
    ("64:ff9b::a9fe:a9fe", Kind.METADATA),
    ("2002:a9fe:0101::1", Kind.LINK_LOCAL),
    ("::a9fe:a9fe", Kind.METADATA),
    ("::ffff:8.8.8.8", Kind.PUBLIC),
]


@pytest.mark.parametrize(("address", "kind"), ADDRESSES, ids=[a for a, _ in ADDRESSES])
def test_addresses_are_classified(address: str, kind: Kind) -> None:
    """It puts each address in the kind its range (or the IPv4 address it carries) belongs to."""
    assert classify_address(ipaddress.ip_address(address)) is kind


@pytest.mark.parametrize(("host", "address"), [
    ("2852039166", "169.254.169.254"), ("0xa9fea9fe", "169.254.169.254"), ("169.254.43518", "169.254.169.254"),
    ("0251.0376.0251.0376", "169.254.169.254"), ("127.1", "127.0.0.1"), ("[::1]", "::1"),
    ("fe80::1%25eth0", "fe80::1"), ("10.0.0.1", "10.0.0.1"),
])
def test_every_spelling_the_resolver_reads_as_an_address_is_parsed(host: str, address: str) -> None:
    """It reads legacy IPv4 forms and bracketed or zoned IPv6 the way getaddrinfo would."""
    assert parse_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "deadbeef", "a1.be", "1password.com", "cafe1", "999.1.1.1"])
def test_names_are_not_mistaken_for_addresses(host: str) -> None:
    """It leaves real names (even hex-looking ones) to DNS."""
    assert parse_address(host) is None


@pytest.mark.parametrize(("name", "kind"), [
    ("metadata.google.internal", Kind.METADATA), ("METADATA.GOOGLE.INTERNAL.", Kind.METADATA),
    ("metadata.goog", Kind.METADATA), ("metadata", Kind.METADATA), ("instance-data", Kind.METADATA),
    ("instance-data.us-east-1.compute.internal", Kind.METADATA), ("localhost", None),
    ("example.com", None), ("metadata.example.com", None),
])
def test_well_known_names_are_classified_without_dns(name: str, kind: Kind | None) -> None:
    """It knows metadata names by heart and leaves the rest, localhost included, to resolution."""
    assert classify_name(name) is kind


@pytest.mark.parametrize(("policy", "refused"), [
    (DEFAULT, {Kind.METADATA, Kind.LINK_LOCAL}),
    (SHARED, {Kind.METADATA, Kind.LINK_LOCAL, Kind.LOOPBACK, Kind.PRIVATE}),
    (CLOUD_OK, set()),
    (DestinationPolicy(allow_link_local=True, deny_private=True), {Kind.LOOPBACK, Kind.PRIVATE}),
], ids=["default", "deny-private", "allow-link-local", "both"])
def test_each_setting_refuses_its_kinds(policy: DestinationPolicy, refused: set[Kind]) -> None:
    """It refuses link-local and metadata by default, private and loopback only when asked."""
    assert {kind for kind in Kind if policy.refuses(kind)} == refused


def test_a_refusal_names_the_host_the_kind_and_the_setting() -> None:
    """It says what was refused and which setting would change that."""
    with pytest.raises(DestinationRefused) as refused:
        DEFAULT.check_host("2852039166")
    assert refused.value.reason == ("2852039166 is 169.254.169.254, a cloud metadata address; HTTP chronos may "
                                    "not call it unless HTTP_TARGET_ALLOW_LINK_LOCAL is set")
    with pytest.raises(DestinationRefused) as refused:
        SHARED.check_address("db.internal", "10.0.0.5")
    assert refused.value.reason == ("db.internal resolves to 10.0.0.5, a private address; HTTP chronos may not "
                                    "call it while HTTP_TARGET_DENY_PRIVATE is set")
    DEFAULT.check_host("127.0.0.1")
    DEFAULT.check_host("example.com")
    CLOUD_OK.check_host("metadata.google.internal")


@pytest.mark.parametrize(("url", "problem"), [
    ("http://[::1/", "cannot be read"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
    ("http://[fd00:ec2::254]/", "cloud metadata address"),
    ("http://[fe80::1%25eth0]:8080/", "link-local address"),
    ("http://0xa9fea9fe/", "is 169.254.169.254"),
    ("https://metadata.google.internal/computeMetadata/v1/", "cloud metadata name"),
    ("http://metadata/", "cloud metadata name"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://example.com:99999/", "out of range"),
    ("http://exa mple.com/", "not a valid host name"),
    ("http://a..b/", "not a valid host name"),
    ("ftp://example.com/", "absolute http(s) URL"),
    ("http://example.com/" + "a" * 2100, "at most 2048"),
])
def test_urls_are_refused_at_creation_naming_url(url: str, problem: str) -> None:
    """It refuses an unreadable URL, credentials in it, and a literal or well-known refused destination."""
    with pytest.raises(InvalidInput) as refused:
        check_url(url, DEFAULT)
    assert refused.value.field == "url" and problem in refused.value.problem


def test_private_literals_are_refused_at_creation_only_under_deny_private() -> None:
    """It accepts loopback and private literals by default and refuses them for shared installations."""
    for url in ("http://127.0.0.1:8080/", "http://[::1]/", "http://10.0.0.1/", "http://2130706433/"):
        assert check_url(url, DEFAULT) == url
        with pytest.raises(InvalidInput, match="HTTP_TARGET_DENY_PRIVATE"):
            check_url(url, SHARED)
    assert check_url("http://localhost:8080/", SHARED) == "http://localhost:8080/"  # judged when it resolves
    assert check_url("  https://bücher.example/x  ", SHARED) == "https://bücher.example/x"


def test_localhost_resolves_to_checked_loopback_addresses() -> None:
    """It returns the loopback addresses of localhost by default and refuses them under deny-private."""
    addresses = asyncio.run(resolve_checked("localhost", 80, DEFAULT))
    assert addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses)
    with pytest.raises(DestinationRefused, match="localhost resolves to .*loopback"):
        asyncio.run(resolve_checked("localhost", 80, DestinationPolicy(deny_private=True)))
