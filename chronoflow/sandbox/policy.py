"""What a function may do: per-function limits and the operator's policy.

Both are plain frozen values checked once at construction, so the runner can trust them and
the sandbox child never sees them: the trusted side alone enforces what they say.

The checks on URLs, hosts, addresses and recipients live here too, as pure functions, because
they are the policy; :mod:`chronoflow.sandbox.broker` only applies them.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from chronoflow.destinations import Kind, classify_address, parse_address

if TYPE_CHECKING:
    from chronoflow.config import Settings

#: Bounds of each limit, ``(minimum, maximum)``; a function cannot ask for more than the maximum.
LIMIT_BOUNDS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "timeout_ms": (100, 300_000),
    "max_memory_mb": (32, 4096),
    "max_http": (0, 1000),
    "max_messages": (0, 1000),
    "max_log_bytes": (1024, 1_048_576),
    "max_state_bytes": (2, 1_048_576),
    "max_response_bytes": (1024, 10_485_760),
    "max_result_bytes": (16, 1_048_576),
    "max_message_chars": (1, 65_536),
})

#: Shortest and longest recipient accepted, in digits (E.164 numbers have at most 15).
RECIPIENT_DIGITS = (8, 15)

#: Characters a recipient may contain besides ASCII digits; they are dropped on normalization.
RECIPIENT_SEPARATORS = frozenset(" -().")

#: Isolation layers of a sandbox child, in the order they are applied (see ``isolation.py``).
LAYERS = ("process-group", "rlimits", "netns", "no-new-privs", "landlock", "setuid", "seccomp")

#: Layers an operator may require (``process-group`` always holds).
REQUIRABLE_LAYERS = frozenset(LAYERS) - {"process-group"}

#: What a run requires unless the operator says otherwise: what holds in a default container.
DEFAULT_REQUIRED_LAYERS = ("rlimits", "no-new-privs", "seccomp", "setuid")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class FunctionLimits:
    """Limits of one function's runs, as given by the API's ``functionLimits``.

    Every field is bounded by :data:`LIMIT_BOUNDS` so a stored function cannot buy itself an
    unbounded run; construction validates, so an instance is always within bounds.
    """

    timeout_ms: int = 5000
    """Wall time of a run; the trusted side kills the sandbox's process group when it passes."""

    max_memory_mb: int = 256
    """Address space the function may use on top of the pre-imported interpreter."""

    max_http: int = 20
    """``ctx.http`` requests per run (redirect hops included)."""

    max_messages: int = 50
    """``ctx.message.send`` calls per run."""

    max_log_bytes: int = 65_536
    """Bytes of ``ctx.log``/``print`` output kept; the rest is dropped with a marker."""

    max_state_bytes: int = 65_536
    """Size of ``ctx.state`` as compact JSON."""

    max_response_bytes: int = 1_048_576
    """Body size of one HTTP response handed to the function."""

    max_result_bytes: int = 262_144
    """Size of the return value as JSON."""

    max_message_chars: int = 4096
    """Length of one message text."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low, high = LIMIT_BOUNDS[f.name]
            if type(value) is not int:
                raise ValueError(f"functionLimits.{_camel(f.name)}: must be an integer")
            if not low <= value <= high:
                raise ValueError(f"functionLimits.{_camel(f.name)}: must be between {low} and {high}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FunctionLimits:
        """Build limits from the API's camelCase ``functionLimits`` object.

        Args:
            data: ``{"timeoutMs": 2000, ...}``; missing keys keep their defaults, ``None`` means all.

        Raises:
            ValueError: naming the field, for an unknown key, a non-integer or an out-of-bounds value.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError("functionLimits: must be an object")  # noqa: TRY004 - API input errors are ValueError
        known = {_camel(f.name): f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"functionLimits.{key}: unknown limit")
            kwargs[known[key]] = value
        return cls(**kwargs)

    def to_json(self) -> dict[str, int]:
        """The camelCase form stored with the function and returned by the API."""
        return {_camel(f.name): getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class SandboxPolicy:
    """Operator-level rules, the same for every function of a deployment."""

    http_allowlist: tuple[str, ...] = ()
    """Hosts functions may call: an exact host, or ``*.domain`` for any subdomain (not the apex)."""

    private_hosts: tuple[str, ...] = ()
    """Allowlisted hosts that may resolve to loopback, private or link-local addresses (same syntax)."""

    recipient_allowlist: tuple[str, ...] = ()
    """Digit prefixes functions may message. Empty means no recipient at all: deny by default."""

    rate_limit_per_second: int = 10
    """Effects (HTTP requests and messages) one run may start per second; faster calls wait."""

    env: Mapping[str, str] = field(default_factory=dict)
    """Variables exposed as ``ctx.env``; nothing else of the host's environment is visible."""

    sandbox_uid: int = 65534
    """Unprivileged user the sandbox child switches to when the runner runs as root (never 0)."""

    network_namespace: bool = True
    """Put each child in a fresh, empty network namespace when the host allows it."""

    required_layers: tuple[str, ...] = DEFAULT_REQUIRED_LAYERS
    """Layers a child must have before it compiles or runs anything (names from :data:`LAYERS`);
    ``setuid`` holds when the child runs without root and without capabilities."""

    def __post_init__(self) -> None:
        for name in ("http_allowlist", "private_hosts"):
            entries = tuple(_normalize_pattern(e) for e in getattr(self, name))
            object.__setattr__(self, name, entries)
        object.__setattr__(self, "recipient_allowlist",
                           tuple(_normalize_prefix(p) for p in self.recipient_allowlist))
        if type(self.rate_limit_per_second) is not int or self.rate_limit_per_second < 1:
            raise ValueError("rate_limit_per_second must be a positive integer")
        if type(self.sandbox_uid) is not int or not 1 <= self.sandbox_uid < 2**32 - 1:
            raise ValueError(f"sandbox_uid must be an unprivileged user id (1 or more), got {self.sandbox_uid!r}")
        unknown = [layer for layer in self.required_layers if layer not in REQUIRABLE_LAYERS]
        if unknown:
            raise ValueError(f"unknown sandbox layer(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(sorted(REQUIRABLE_LAYERS))}")
        object.__setattr__(self, "required_layers", tuple(dict.fromkeys(self.required_layers)))
        env = dict(self.env)
        for key, value in env.items():
            if type(key) is not str or type(value) is not str:
                raise ValueError("env must map strings to strings")
        object.__setattr__(self, "env", MappingProxyType(env))

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxPolicy:
        """The policy a deployment's settings describe.

        ``ctx.env`` gets the variables named by ``FUNCTION_ENV_ALLOWLIST`` that are set in the
        server's environment, read now, once.
        """
        import os

        env = {name: os.environ[name] for name in settings.function_env_allowlist if name in os.environ}
        return cls(
            http_allowlist=settings.function_http_allowlist,
            private_hosts=settings.function_http_private_hosts,
            recipient_allowlist=settings.function_message_recipient_allowlist,
            rate_limit_per_second=settings.function_rate_limit_per_second,
            env=env,
            sandbox_uid=settings.function_sandbox_uid,
            network_namespace=settings.function_sandbox_network_namespace,
            required_layers=settings.function_sandbox_required_layers,
        )

    def missing_layers(self, active: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The required layers not among ``active``, in the order they were required."""
        return tuple(layer for layer in self.required_layers if layer not in active)

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` (already lower-cased, no trailing dot) is on the HTTP allowlist."""
        return _host_matches(host, self.http_allowlist)

    def host_may_be_private(self, host: str) -> bool:
        """Whether ``host`` may resolve to a non-public address."""
        return _host_matches(host, self.private_hosts)

    def recipient_allowed(self, digits: str) -> bool:
        """Whether the normalized recipient starts with an allowlisted prefix."""
        return any(digits.startswith(prefix) for prefix in self.recipient_allowlist)


def _normalize_pattern(entry: str) -> str:
    entry = entry.strip().lower().rstrip(".")
    bare = entry.removeprefix("*.")
    if not bare or "*" in bare or "/" in bare or "@" in bare:
        raise ValueError(f"host allowlist entry {entry!r} must be a host or *.domain")
    return entry


def _normalize_prefix(entry: str) -> str:
    """A recipient prefix as digits: ``+55 (11)`` and ``55-11`` both become ``5511``."""
    text = str(entry).strip().removeprefix("+")
    if any(c not in string.digits and c not in RECIPIENT_SEPARATORS for c in text):
        raise ValueError(f"recipient allowlist entry {entry!r} must be a phone prefix: digits, '+', spaces, dashes")
    digits = "".join(c for c in text if c in string.digits)
    if not digits:
        raise ValueError(f"recipient allowlist entry {entry!r} has no digit")
    return digits


def _host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


class PolicyViolation(Exception):
    """A request the policy refuses; the message is shown to the function as is."""


def check_url(url: str) -> tuple[SplitResult, str, int]:
    """Validate a URL's shape before any network use.

    Returns:
        The split URL, its normalized host (lower-case, no trailing dot, IPv6 without brackets)
        and its port.

    Raises:
        PolicyViolation: for another scheme, userinfo, control or non-ASCII characters, no host.
    """
    if type(url) is not str:
        raise PolicyViolation("url must be a string")
    if len(url) > 8192:
        raise PolicyViolation("url is too long")
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in url):
        raise PolicyViolation("url must be ASCII without spaces or control characters")
    if "\\" in url:
        raise PolicyViolation("url must not contain backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PolicyViolation(f"invalid url: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise PolicyViolation("only http and https urls are allowed")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise PolicyViolation("urls with user information are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise PolicyViolation("url has no host")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def address_is_public(address: str) -> bool:
    """Whether an IP address is public, judged as HTTP chronos judge their destinations."""
    ip = parse_address(address.split("%", 1)[0])
    return ip is not None and classify_address(ip) is Kind.PUBLIC


def normalize_recipient(to: object) -> str:
    """Turn one phone number into its digits, refusing anything that is not plainly one number.

    One leading ``+`` and the separators space, ``-``, ``(``, ``)`` and ``.`` are accepted and
    dropped; every other character (letters, ``@c.us`` suffixes, commas, non-ASCII digits,
    invisible characters, a second ``+``) is refused rather than stripped, so what is checked
    against the allowlist is exactly what gets sent.

    Raises:
        PolicyViolation: when ``to`` is not one plausible number.
    """
    if type(to) is int and not isinstance(to, bool):
        to = str(to)
    if type(to) is not str:
        raise PolicyViolation("recipient must be a string of digits")
    text = to.removeprefix("+")
    if any(c not in string.digits and c not in RECIPIENT_SEPARATORS for c in text):
        raise PolicyViolation("recipient must be one phone number: digits, spaces, dashes only")
    digits = "".join(c for c in text if c in string.digits)
    low, high = RECIPIENT_DIGITS
    if not low <= len(digits) <= high:
        raise PolicyViolation(f"recipient must have {low} to {high} digits")
    return digits


def finite_seconds(value: object, name: str) -> float:
    """An exact ``int``/``float`` number of seconds, finite and not negative."""
    if (type(value) is not int and type(value) is not float) or not math.isfinite(value) or value < 0:
        raise PolicyViolation(f"{name} must be a finite, non-negative number of seconds")
    return float(value)
