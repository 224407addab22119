"""Typed settings, read from the environment and checked once, before any role starts.

Every field documents the environment variable it comes from. :meth:`Settings.from_env` parses
and range-checks all of them and raises one :class:`~chronoflow.errors.ConfigError` that
lists every bad variable, its value and what is expected, so an operator fixes a broken
deployment in one pass instead of one crash at a time. Unset ``DATABASE_URL`` and ``REDIS_URL``
mean the embedded defaults: a SQLite file and an embedded Redis server under ``CHRONOFLOW_HOME``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chronoflow.errors import ConfigError

MAX_MISFIRE_GRACE_SECONDS = 7 * 86400
"""Longest misfire grace a chrono (or the default) may have: a week."""

SANDBOX_LAYERS = ("rlimits", "netns", "landlock", "setuid", "no-new-privs", "seccomp")
"""Isolation layers a sandbox child can have; ``setuid`` is satisfied when the server is not root."""

SAFE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
"""HTTP methods an operator may allow for HTTP chronos; TRACE and CONNECT are never useful to a chrono."""

EMBEDDED_DATABASE_FILE = "chronoflow.db"
"""The SQLite file under ``CHRONOFLOW_HOME`` used when ``DATABASE_URL`` is unset."""

ROLES_NEEDING_REDIS = frozenset({"api", "scheduler", "worker", "reconcile"})


@dataclass(frozen=True)
class Settings:
    """All runtime configuration of ChronoFlow. ``Settings()`` holds the defaults."""

    home: Path = Path(".chronoflow")
    """CHRONOFLOW_HOME: folder for the embedded SQLite file and Redis server (default ``.chronoflow``)."""

    database_url: str = ""
    """DATABASE_URL: ``sqlite:///path`` or ``postgresql://…`` (served by asyncpg); empty means embedded SQLite."""

    redis_url: str = ""
    """REDIS_URL: ``redis://``, ``rediss://`` or ``unix://`` URL of the Redis holding the jobs; empty means the embedded server."""

    port: int = 3000
    """PORT: where the API listens (3000)."""

    host: str = "127.0.0.1"
    """HOST: interface the API binds (127.0.0.1; use 0.0.0.0 in a container)."""

    public_base_url: str = ""
    """PUBLIC_BASE_URL: how gateways reach this server, for the webhook URLs handed to them (http://HOST:PORT)."""

    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR (INFO)."""

    default_timezone: str = "UTC"
    """DEFAULT_TIMEZONE: IANA zone used when a chrono names none (UTC)."""

    api_tokens: tuple[str, ...] = ()
    """CHRONOFLOW_API_TOKENS: comma-separated bearer tokens accepted by the API (required by ``api``)."""

    queue_name: str = "chronoflow"
    """CHRONOFLOW_QUEUE: RQ queue the runs go through (chronoflow)."""

    max_request_body_bytes: int = 1024 * 1024
    """MAX_REQUEST_BODY_BYTES: largest request body the API accepts (1048576)."""

    job_attempts: int = 3
    """JOB_ATTEMPTS: attempts per occurrence, the first included, 1–100 (3)."""

    job_backoff_ms: int = 1000
    """JOB_BACKOFF_MS: delay before the first retry; it doubles on each further one (1000)."""

    http_request_timeout_ms: int = 10000
    """HTTP_REQUEST_TIMEOUT_MS: time one HTTP target call may take, whole, 1–3600000 (10000)."""

    http_max_retries: int = 2
    """HTTP_MAX_RETRIES: retries of provider calls on 5xx and connection errors, 0–10 (2).

    A message send is retried only when its connection could not be opened (see channels.transport)."""

    allowed_methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
    """ALLOWED_METHODS: HTTP methods an HTTP chrono may use (GET,POST,PUT,PATCH,DELETE)."""

    http_target_allow_link_local: bool = False
    """HTTP_TARGET_ALLOW_LINK_LOCAL: let HTTP chronos call link-local and cloud-metadata addresses (0)."""

    http_target_deny_private: bool = False
    """HTTP_TARGET_DENY_PRIVATE: refuse loopback and private destinations too, for shared installations (0)."""

    misfire_grace_seconds: int = 300
    """MISFIRE_GRACE_SECONDS: default of a chrono's misfire grace: how late a missed occurrence may still run (300)."""

    worker_heartbeat_ttl_s: int = 15
    """WORKER_HEARTBEAT_TTL_SECONDS: a worker silent this long is dead and its running runs fail, 1–3600 (15)."""

    worker_concurrency: int = 16
    """WORKER_CONCURRENCY: occurrences one worker process runs at once, 1–1000 (16). Runs mostly wait on
    receivers and gateways, so they overlap on the worker's event loop; see the README on sizing."""

    worker_function_concurrency: int = 2
    """WORKER_FUNCTION_CONCURRENCY: FUNCTION runs (each a sandbox child) one worker process runs at once,
    1–256 (2); they also count against WORKER_CONCURRENCY. Sandbox children use CPU and memory, so
    this follows the cores, not the receivers."""

    scheduler_lock_ttl_ms: int = 5000
    """SCHEDULER_LOCK_TTL_MS: leadership lease of the active scheduler; a standby takes over after it (5000)."""

    function_http_allowlist: tuple[str, ...] = ()
    """FUNCTION_HTTP_ALLOWLIST: host names user functions may call (exact host or ``*.domain``)."""

    function_http_private_hosts: tuple[str, ...] = ()
    """FUNCTION_HTTP_PRIVATE_HOSTS: allowlisted host names that may resolve to loopback/private/link-local addresses (none)."""

    function_message_recipient_allowlist: tuple[str, ...] = ()
    """FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST: phone prefixes user functions may message (``+55 11`` is read as ``5511``)."""

    function_rate_limit_per_second: int = 10
    """FUNCTION_RATE_LIMIT_PER_SECOND: SDK calls per second one function run may make, 1–10000 (10)."""

    function_env_allowlist: tuple[str, ...] = ()
    """FUNCTION_ENV_ALLOWLIST: names of server environment variables exposed to functions as ``ctx.env`` (none)."""

    function_sandbox_uid: int = 65534
    """FUNCTION_SANDBOX_UID: unprivileged uid (and gid) a sandbox child drops to when the server is root (65534)."""

    function_sandbox_network_namespace: bool = True
    """FUNCTION_SANDBOX_NETNS: give each sandbox child an empty network namespace when possible (1)."""

    function_sandbox_required_layers: tuple[str, ...] = ("rlimits", "no-new-privs", "seccomp", "setuid")
    """FUNCTION_SANDBOX_REQUIRED_LAYERS: isolation layers every FUNCTION run needs (rlimits,no-new-privs,seccomp,setuid)."""

    waha_base_url: str = "http://localhost:3001"
    """WAHA_BASE_URL: the WAHA server (http://localhost:3001)."""

    waha_api_key: str = ""
    """WAHA_API_KEY: sent as ``X-Api-Key`` to WAHA."""

    waha_webhook_hmac_key: str = ""
    """WAHA_WEBHOOK_HMAC_KEY: WAHA webhooks must carry a valid ``X-Webhook-Hmac``; unset closes them."""

    evolution_base_url: str = "http://localhost:8080"
    """EVOLUTION_BASE_URL: the Evolution API server (http://localhost:8080)."""

    evolution_api_key: str = ""
    """EVOLUTION_API_KEY: sent as ``apikey`` to Evolution API."""

    evolution_webhook_secret: str = ""
    """EVOLUTION_WEBHOOK_SECRET: shared secret Evolution webhooks must carry; unset closes them."""

    @property
    def effective_database_url(self) -> str:
        """The async SQLAlchemy URL: the configured one, or the embedded SQLite file."""
        return async_database_url(self.database_url or f"sqlite:///{self.embedded_database_path}")

    @property
    def embedded_database_path(self) -> Path:
        """The embedded SQLite file: ``chronoflow.db`` under the home directory.

        Earlier versions named it ``chronoflow.store.engine``; a home that has only that file keeps
        using it, so an upgrade never starts on an empty database.
        """
        home = self.home.resolve()
        current, earlier = home / EMBEDDED_DATABASE_FILE, home / "chronoflow.store.engine"
        return earlier if earlier.exists() and not current.exists() else current

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, role: str | None = None) -> Settings:
        """Parse and check every variable; raise one ``ConfigError`` naming all bad ones.

        Args:
            environ: the environment to read (``os.environ`` by default).
            role: the process about to start (``api``, ``worker``…), for the variables only it needs.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, (variable, parse) in _VARIABLES.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                values[name] = parse(raw)
            except ValueError as exc:
                problems.append(f"{variable}={raw!r}: {exc}")
        if role == "api" and not values.get("api_tokens"):
            problems.append("CHRONOFLOW_API_TOKENS is not set: the api role needs at least one bearer token "
                            "(`chronoflow dev` generates one for a laptop)")
        if role in ROLES_NEEDING_REDIS and not values.get("redis_url"):
            problems.append(f"REDIS_URL is not set: the {role} role needs a shared Redis "
                            "(`chronoflow dev` starts an embedded one)")
        if problems:
            raise ConfigError(problems)
        return cls(**values)

    def __post_init__(self) -> None:
        if not self.public_base_url:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
            host = f"[{host}]" if ":" in host else host
            object.__setattr__(self, "public_base_url", f"http://{host}:{self.port}")


# --- parsers: each turns a non-empty raw value into a typed one or raises ValueError("expected …") ---

Parser = Callable[[str], Any]


def _integer(low: int, high: int) -> Parser:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected an integer from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return value

    return parse


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1 or 0 (also true/false, yes/no, on/off)")


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as UTC or America/Sao_Paulo") from None
    return raw


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("expected an http:// or https:// URL with a valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL such as http://localhost:3001")
    return raw.rstrip("/")


def _database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0].split("+", 1)[0] if "://" in raw else ""
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ValueError("expected sqlite:///path/to/file.db or postgresql://user:password@host:5432/name")
    return raw


def _redis_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ValueError("expected redis://host:6379/0, rediss://… or unix:///path/to/redis.sock")
    return raw


def _tokens(raw: str) -> tuple[str, ...]:
    tokens = tuple(_items(raw))
    if any(not token.isprintable() or " " in token for token in tokens):
        raise ValueError("expected comma-separated tokens without spaces or control characters")
    return tokens


def _methods(raw: str) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(m.upper() for m in _items(raw)))
    bad = [m for m in methods if m not in SAFE_METHODS]
    if bad or not methods:
        raise ValueError(f"expected a comma-separated subset of {','.join(SAFE_METHODS)}"
                         + (f" ({', '.join(bad)} not allowed)" if bad else ""))
    return methods


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _host_names(raw: str) -> tuple[str, ...]:
    hosts = []
    entries = _items(raw)
    for entry in entries:
        which = f" ({entry!r})" if len(entries) > 1 else ""
        host = entry.lower().rstrip(".")
        if "://" in host or "/" in host or "@" in host:
            raise ValueError(f"give host names, not URLs or networks, such as api.example.com or *.example.com{which}")
        bare = host.removeprefix("*.")
        if not _is_ip(bare) and not all(_HOST_LABEL.match(label) for label in bare.split(".")):
            raise ValueError(f"expected a host name, an IP address or *.domain{which}")
        hosts.append(host)
    return tuple(hosts)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _phone_prefixes(raw: str) -> tuple[str, ...]:
    """Prefixes as people write numbers (``+55 (11)``, ``55 11``) become digits (``5511``)."""
    prefixes = []
    for entry in _items(raw):
        digits = "".join(c for c in entry if c.isdigit() and c.isascii())
        if not digits:
            raise ValueError(f"{entry!r}: expected phone prefixes with digits, such as +5511 or 55 21")
        prefixes.append(digits)
    return tuple(dict.fromkeys(prefixes))


def _env_names(raw: str) -> tuple[str, ...]:
    names = tuple(_items(raw))
    bad = [name for name in names if not name.isidentifier()]
    if bad:
        raise ValueError(f"expected variable names such as BILLING_API_KEY ({', '.join(bad)} is not one)")
    return names


def _layers(raw: str) -> tuple[str, ...]:
    layers = tuple(dict.fromkeys(item.lower() for item in _items(raw)))
    bad = [layer for layer in layers if layer not in SANDBOX_LAYERS]
    if bad:
        raise ValueError(f"expected a comma-separated subset of {','.join(SANDBOX_LAYERS)} "
                         f"({', '.join(bad)} unknown)")
    return layers


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _queue_name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", raw):
        raise ValueError("expected letters, digits, '_', '.', ':' or '-' (at most 100)")
    return raw


def _text(raw: str) -> str:
    if not raw.isprintable():
        raise ValueError("expected printable text without control characters")
    return raw


def _api_key(raw: str) -> str:
    if not raw.isascii() or not raw.isprintable():
        raise ValueError("expected printable ASCII: it is sent in an HTTP header")
    return raw


_VARIABLES: dict[str, tuple[str, Parser]] = {
    "home": ("CHRONOFLOW_HOME", Path),
    "database_url": ("DATABASE_URL", _database_url),
    "redis_url": ("REDIS_URL", _redis_url),
    "port": ("PORT", _integer(1, 65535)),
    "host": ("HOST", _text),
    "public_base_url": ("PUBLIC_BASE_URL", _http_url),
    "log_level": ("LOG_LEVEL", _log_level),
    "default_timezone": ("DEFAULT_TIMEZONE", _timezone),
    "api_tokens": ("CHRONOFLOW_API_TOKENS", _tokens),
    "queue_name": ("CHRONOFLOW_QUEUE", _queue_name),
    "max_request_body_bytes": ("MAX_REQUEST_BODY_BYTES", _integer(1024, 1024**3)),
    "job_attempts": ("JOB_ATTEMPTS", _integer(1, 100)),
    "job_backoff_ms": ("JOB_BACKOFF_MS", _integer(0, 86_400_000)),
    "http_request_timeout_ms": ("HTTP_REQUEST_TIMEOUT_MS", _integer(1, 3_600_000)),
    "http_max_retries": ("HTTP_MAX_RETRIES", _integer(0, 10)),
    "allowed_methods": ("ALLOWED_METHODS", _methods),
    "http_target_allow_link_local": ("HTTP_TARGET_ALLOW_LINK_LOCAL", _boolean),
    "http_target_deny_private": ("HTTP_TARGET_DENY_PRIVATE", _boolean),
    "misfire_grace_seconds": ("MISFIRE_GRACE_SECONDS", _integer(0, MAX_MISFIRE_GRACE_SECONDS)),
    "worker_heartbeat_ttl_s": ("WORKER_HEARTBEAT_TTL_SECONDS", _integer(1, 3600)),
    "worker_concurrency": ("WORKER_CONCURRENCY", _integer(1, 1000)),
    "worker_function_concurrency": ("WORKER_FUNCTION_CONCURRENCY", _integer(1, 256)),
    "scheduler_lock_ttl_ms": ("SCHEDULER_LOCK_TTL_MS", _integer(1000, 600_000)),
    "function_http_allowlist": ("FUNCTION_HTTP_ALLOWLIST", _host_names),
    "function_http_private_hosts": ("FUNCTION_HTTP_PRIVATE_HOSTS", _host_names),
    "function_message_recipient_allowlist": ("FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST", _phone_prefixes),
    "function_rate_limit_per_second": ("FUNCTION_RATE_LIMIT_PER_SECOND", _integer(1, 10_000)),
    "function_env_allowlist": ("FUNCTION_ENV_ALLOWLIST", _env_names),
    "function_sandbox_uid": ("FUNCTION_SANDBOX_UID", _integer(1, 2**32 - 2)),
    "function_sandbox_network_namespace": ("FUNCTION_SANDBOX_NETNS", _boolean),
    "function_sandbox_required_layers": ("FUNCTION_SANDBOX_REQUIRED_LAYERS", _layers),
    "waha_base_url": ("WAHA_BASE_URL", _http_url),
    "waha_api_key": ("WAHA_API_KEY", _api_key),
    "waha_webhook_hmac_key": ("WAHA_WEBHOOK_HMAC_KEY", _text),
    "evolution_base_url": ("EVOLUTION_BASE_URL", _http_url),
    "evolution_api_key": ("EVOLUTION_API_KEY", _api_key),
    "evolution_webhook_secret": ("EVOLUTION_WEBHOOK_SECRET", _text),
}
"""Field -> (environment variable, parser). A test keeps it in step with the fields of Settings."""


def async_database_url(url: str) -> str:
    """``url`` with the async driver ChronoFlow uses for its scheme (asyncpg, aiosqlite)."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite://", "sqlite+aiosqlite://")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; ``get_settings.cache_clear()`` re-reads the environment.

    Raises:
        ConfigError: listing every bad variable.
    """
    return Settings.from_env()
