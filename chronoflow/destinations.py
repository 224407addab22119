"""Where an HTTP chrono may send its request: address classification and the connect-time guard.

A chrono's URL is chosen by whoever holds an API token, and the worker that calls it often sits
next to things the token holder must not reach: the cloud's instance metadata service (which
hands out the machine's credentials), link-local services, and on shared installations the
private network and the worker's own loopback. Every destination falls in one :class:`Kind`:

- ``cloud metadata`` and ``link-local`` (169.254.0.0/16, fe80::/10, fd00:ec2::254,
  100.100.100.200, ``metadata.google.internal``...) are refused unless the operator sets
  ``HTTP_TARGET_ALLOW_LINK_LOCAL``;
- ``loopback`` and ``private`` (RFC 1918, fc00::/7, 100.64.0.0/10, and every other address that
  is not globally routable) are refused when the operator sets ``HTTP_TARGET_DENY_PRIVATE``;
- ``public`` is always allowed.

Two checks use it. At creation a literal address or a well-known name is judged without DNS
(:meth:`DestinationPolicy.check_host`). At run time the HTTP target's client
(:mod:`chronoflow.targets.http_client`) resolves the host itself with :func:`resolve_checked`,
which checks every address the name has, and connects to a checked address, so a DNS answer
cannot change between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from chronoflow.errors import ChronoflowError

if TYPE_CHECKING:
    from chronoflow.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Kind(Enum):
    """What a destination address is, from the most to the least sensitive."""

    METADATA = "cloud metadata"
    LINK_LOCAL = "link-local"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    PUBLIC = "public"


_SEVERITY = {kind: rank for rank, kind in enumerate(Kind)}

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean...
    "169.254.170.2",  # AWS ECS task credentials
    "169.254.170.23",  # AWS EKS pod identity
    "169.254.0.23",  # Tencent Cloud
    "fd00:ec2::254",  # AWS over IPv6
    "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (legacy)
    "168.63.129.16",  # Azure WireServer
))
"""Instance metadata and credential services, refused even where their range is otherwise allowed."""

METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
    "metadata.tencentyun.com",
})
"""Names that reach a metadata service from inside a cloud (``instance-data.*`` as well)."""

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")
"""Host strings the system resolver may read as an IPv4 address (``2852039166``, ``0xa9.0376.1``)."""


class DestinationRefused(ChronoflowError):
    """A destination the operator's settings forbid; ``reason`` says which and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def parse_address(host: str) -> IPAddress | None:
    """The address ``host`` denotes literally, in every spelling the system resolver accepts; else None.

    Besides dotted quads and IPv6 (with or without brackets and zone), this covers the legacy
    IPv4 forms (decimal, octal, hexadecimal, fewer than four parts) that ``getaddrinfo`` still
    turns into addresses without asking DNS.
    """
    text = host.strip().removeprefix("[").removesuffix("]")
    text = text.split("%", 1)[0]  # an IPv6 zone ("fe80::1%eth0", "%25eth0" in URLs)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(text) and any(c.isdigit() for c in text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to its destination (mapped, NAT64, compatible, 6to4)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64) or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _own_kind(ip: IPAddress) -> Kind:
    if ip in METADATA_ADDRESSES:
        return Kind.METADATA
    if ip.is_link_local:
        return Kind.LINK_LOCAL
    if ip.is_loopback:
        return Kind.LOOPBACK
    if ip.is_global and not ip.is_multicast and ip not in _SHARED_SPACE:
        return Kind.PUBLIC
    return Kind.PRIVATE


def classify_address(ip: IPAddress) -> Kind:
    """The kind of one address; an IPv6 address carrying an IPv4 one is judged by the worse of both."""
    kind = _own_kind(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            kind = min(kind, _own_kind(inner), key=_SEVERITY.__getitem__)
    return kind


def classify_name(host: str) -> Kind | None:
    """The kind a host name is known to reach without resolving it, or None when only DNS can tell.

    Only metadata names are known here: they are refused at creation even where the API cannot
    resolve them. Every other name, ``localhost`` included, is judged by what it resolves to.
    """
    name = host.strip().rstrip(".").lower()
    if name in METADATA_NAMES or name.startswith("instance-data."):
        return Kind.METADATA
    return None


@dataclass(frozen=True)
class DestinationPolicy:
    """Which kinds of destination the operator allows HTTP chronos to call."""

    allow_link_local: bool = False
    deny_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> DestinationPolicy:
        return cls(allow_link_local=settings.http_target_allow_link_local,
                   deny_private=settings.http_target_deny_private)

    def refuses(self, kind: Kind) -> bool:
        if kind in (Kind.METADATA, Kind.LINK_LOCAL):
            return not self.allow_link_local
        if kind in (Kind.LOOPBACK, Kind.PRIVATE):
            return self.deny_private
        return False

    def _refusal(self, subject: str, kind: Kind) -> DestinationRefused:
        if kind in (Kind.METADATA, Kind.LINK_LOCAL):
            rule = "unless HTTP_TARGET_ALLOW_LINK_LOCAL is set"
        else:
            rule = "while HTTP_TARGET_DENY_PRIVATE is set"
        return DestinationRefused(f"{subject}; HTTP chronos may not call it {rule}")

    def check_host(self, host: str) -> None:
        """Judge a URL's host as written: a literal address or a well-known name. No DNS.

        Raises:
            DestinationRefused: the host is an address or name of a refused kind.
        """
        address = parse_address(host)
        if address is not None:
            kind = classify_address(address)
            if self.refuses(kind):
                spelled = host.strip("[]")
                subject = (f"{spelled} is a {kind.value} address" if str(address) == spelled
                           else f"{spelled} is {address}, a {kind.value} address")
                raise self._refusal(subject, kind)
            return
        kind = classify_name(host) or Kind.PUBLIC
        if self.refuses(kind):
            raise self._refusal(f"{host} is a {kind.value} name", kind)

    def check_address(self, host: str, address: str) -> None:
        """Judge one address ``host`` resolved to.

        Raises:
            DestinationRefused: the address is of a refused kind.
        """
        parsed = parse_address(address)
        if parsed is None:
            raise DestinationRefused(f"{host} resolved to {address!r}, which is not an IP address")
        kind = classify_address(parsed)
        if self.refuses(kind):
            raise self._refusal(f"{host} resolves to {address}, a {kind.value} address", kind)


async def resolve_checked(host: str, port: int, policy: DestinationPolicy) -> list[str]:
    """Every address ``host`` resolves to, once all of them passed ``policy``.

    All are checked, not only the one used: a name mixing a public and a metadata address must
    not reach the metadata one on a retry or a fallback.

    Raises:
        DestinationRefused: one of the addresses is refused.
        OSError: the name does not resolve.
    """
    policy.check_host(host)
    literal = parse_address(host)
    if literal is not None and "%" not in host:  # nothing to resolve (a zoned address keeps its zone below)
        return [str(literal)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"cannot resolve {host}")
    for address in addresses:
        policy.check_address(host, address)
    return addresses


__all__ = [
    "METADATA_ADDRESSES", "METADATA_NAMES", "DestinationPolicy", "DestinationRefused", "Kind",
    "classify_address", "classify_name", "parse_address", "resolve_checked",
]
