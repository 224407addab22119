"""Typed settings, read from the environment once.

Every field documents the environment variable it comes from. Unset ``DATABASE_URL`` and
``REDIS_URL`` mean the embedded defaults: a SQLite file and an embedded Redis server under
``CHRONOFLOW_HOME``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _env_list(name: str, default: str = "") -> tuple[str, ...]:
    raw = os.environ.get(name, default)
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """All runtime configuration of ChronoFlow."""

    home: Path = field(default_factory=lambda: Path(os.environ.get("CHRONOFLOW_HOME", ".chronoflow")))
    """CHRONOFLOW_HOME: folder for the embedded SQLite file and Redis server (default ``.chronoflow``)."""

    database_url: str = field(default_factory=lambda: os.environ.get("DATABASE_URL", ""))
    """DATABASE_URL: SQLAlchemy URL; ``postgresql://`` is served by asyncpg, empty means embedded SQLite."""

    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", ""))
    """REDIS_URL: Redis holding the jobs; empty means the embedded server."""

    port: int = field(default_factory=lambda: _env_int("PORT", 3000))
    """PORT: where the API listens (3000)."""

    host: str = field(default_factory=lambda: os.environ.get("HOST", "127.0.0.1"))
    """HOST: interface the API binds (127.0.0.1; use 0.0.0.0 in a container)."""

    default_timezone: str = field(default_factory=lambda: os.environ.get("DEFAULT_TIMEZONE", "UTC"))
    """DEFAULT_TIMEZONE: IANA zone used when a chrono names none (UTC)."""

    api_tokens: tuple[str, ...] = field(default_factory=lambda: _env_list("CHRONOFLOW_API_TOKENS"))
    """CHRONOFLOW_API_TOKENS: comma-separated bearer tokens accepted by the API."""

    queue_name: str = field(default_factory=lambda: os.environ.get("CHRONOFLOW_QUEUE", "chronoflow"))
    """CHRONOFLOW_QUEUE: RQ queue the runs go through (chronoflow)."""

    job_attempts: int = field(default_factory=lambda: _env_int("JOB_ATTEMPTS", 3))
    """JOB_ATTEMPTS: attempts per occurrence, the first included (3)."""

    job_backoff_ms: int = field(default_factory=lambda: _env_int("JOB_BACKOFF_MS", 1000))
    """JOB_BACKOFF_MS: delay before the first retry; it doubles on each further one (1000)."""

    http_request_timeout_ms: int = field(default_factory=lambda: _env_int("HTTP_REQUEST_TIMEOUT_MS", 10000))
    """HTTP_REQUEST_TIMEOUT_MS: timeout of one HTTP target call (10000)."""

    http_max_retries: int = field(default_factory=lambda: _env_int("HTTP_MAX_RETRIES", 2))
    """HTTP_MAX_RETRIES: retries of provider calls on 5xx and connection errors (2)."""

    allowed_methods: tuple[str, ...] = field(
        default_factory=lambda: tuple(m.upper() for m in _env_list("ALLOWED_METHODS", "GET,POST,PUT,PATCH,DELETE"))
    )
    """ALLOWED_METHODS: HTTP methods an HTTP chrono may use (GET,POST,PUT,PATCH,DELETE)."""

    misfire_grace_seconds: int = field(default_factory=lambda: _env_int("MISFIRE_GRACE_SECONDS", 300))
    """MISFIRE_GRACE_SECONDS: default of a chrono's misfire grace: how late a missed occurrence may still run (300)."""

    worker_heartbeat_ttl_s: int = field(default_factory=lambda: _env_int("WORKER_HEARTBEAT_TTL_SECONDS", 15))
    """WORKER_HEARTBEAT_TTL_SECONDS: a worker silent this long is dead and its running runs fail (15)."""

    scheduler_lock_ttl_ms: int = field(default_factory=lambda: _env_int("SCHEDULER_LOCK_TTL_MS", 5000))
    """SCHEDULER_LOCK_TTL_MS: leadership lease of the active scheduler; a standby takes over after it (5000)."""

    function_http_allowlist: tuple[str, ...] = field(default_factory=lambda: _env_list("FUNCTION_HTTP_ALLOWLIST"))
    """FUNCTION_HTTP_ALLOWLIST: hosts user functions may call (exact host or ``*.domain``)."""

    function_message_recipient_allowlist: tuple[str, ...] = field(
        default_factory=lambda: _env_list("FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST")
    )
    """FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST: digit prefixes user functions may message."""

    function_rate_limit_per_second: int = field(
        default_factory=lambda: _env_int("FUNCTION_RATE_LIMIT_PER_SECOND", 10)
    )
    """FUNCTION_RATE_LIMIT_PER_SECOND: SDK calls per second one function run may make (10)."""

    waha_base_url: str = field(default_factory=lambda: os.environ.get("WAHA_BASE_URL", "http://localhost:3001"))
    """WAHA_BASE_URL: the WAHA server."""

    waha_api_key: str = field(default_factory=lambda: os.environ.get("WAHA_API_KEY", ""))
    """WAHA_API_KEY: sent as ``X-Api-Key`` to WAHA."""

    waha_webhook_hmac_key: str = field(default_factory=lambda: os.environ.get("WAHA_WEBHOOK_HMAC_KEY", ""))
    """WAHA_WEBHOOK_HMAC_KEY: when set, WAHA webhooks must carry a valid ``X-Webhook-Hmac``."""

    evolution_base_url: str = field(
        default_factory=lambda: os.environ.get("EVOLUTION_BASE_URL", "http://localhost:8080")
    )
    """EVOLUTION_BASE_URL: the Evolution API server."""

    evolution_api_key: str = field(default_factory=lambda: os.environ.get("EVOLUTION_API_KEY", ""))
    """EVOLUTION_API_KEY: sent as ``apikey`` to Evolution API."""

    evolution_webhook_secret: str = field(default_factory=lambda: os.environ.get("EVOLUTION_WEBHOOK_SECRET", ""))
    """EVOLUTION_WEBHOOK_SECRET: shared secret Evolution webhooks must carry."""

    function_http_private_hosts: tuple[str, ...] = field(
        default_factory=lambda: _env_list("FUNCTION_HTTP_PRIVATE_HOSTS")
    )
    """FUNCTION_HTTP_PRIVATE_HOSTS: allowlisted hosts that may resolve to loopback/private/link-local addresses (none)."""

    function_env_allowlist: tuple[str, ...] = field(default_factory=lambda: _env_list("FUNCTION_ENV_ALLOWLIST"))
    """FUNCTION_ENV_ALLOWLIST: names of server environment variables exposed to functions as ``ctx.env`` (none)."""

    function_sandbox_uid: int = field(default_factory=lambda: _env_int("FUNCTION_SANDBOX_UID", 65534))
    """FUNCTION_SANDBOX_UID: unprivileged uid (and gid) a sandbox child drops to when the server is root (65534)."""

    function_sandbox_network_namespace: bool = field(
        default_factory=lambda: os.environ.get("FUNCTION_SANDBOX_NETNS", "1").strip().lower()
        not in ("0", "false", "no", "off")
    )
    """FUNCTION_SANDBOX_NETNS: give each sandbox child an empty network namespace when possible (1)."""

    function_sandbox_required_layers: tuple[str, ...] = field(
        default_factory=lambda: _env_list("FUNCTION_SANDBOX_REQUIRED_LAYERS", "rlimits,no-new-privs,seccomp,setuid")
    )
    """FUNCTION_SANDBOX_REQUIRED_LAYERS: isolation layers every FUNCTION run needs (rlimits,no-new-privs,seccomp,setuid)."""

    max_request_body_bytes: int = field(default_factory=lambda: _env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024))
    """MAX_REQUEST_BODY_BYTES: largest request body the API accepts (1048576)."""

    http_target_allow_link_local: bool = field(
        default_factory=lambda: os.environ.get("HTTP_TARGET_ALLOW_LINK_LOCAL", "0").strip().lower() in ("1", "true", "yes", "on")
    )
    """HTTP_TARGET_ALLOW_LINK_LOCAL: let HTTP chronos call link-local and cloud-metadata addresses (0)."""

    http_target_deny_private: bool = field(
        default_factory=lambda: os.environ.get("HTTP_TARGET_DENY_PRIVATE", "0").strip().lower() in ("1", "true", "yes", "on")
    )
    """HTTP_TARGET_DENY_PRIVATE: refuse loopback and private destinations too, for shared installations (0)."""

    public_base_url: str = field(default_factory=lambda: os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"))
    """PUBLIC_BASE_URL: how gateways reach this server, for the webhook URLs handed to them (http://HOST:PORT)."""

    @property
    def effective_database_url(self) -> str:
        """The async SQLAlchemy URL: the configured one, or the embedded SQLite file."""
        return async_database_url(self.database_url or f"sqlite:///{(self.home / 'chronoflow.db').resolve()}")


def async_database_url(url: str) -> str:
    """``url`` with the async driver ChronoFlow uses for its scheme (asyncpg, aiosqlite)."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite://", "sqlite+aiosqlite://")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; ``get_settings.cache_clear()`` re-reads the environment."""
    return Settings()
