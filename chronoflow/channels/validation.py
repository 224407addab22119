"""What a channel's settings may hold: session names, API keys and base URLs, checked before use.

Each value here ends up somewhere fragile: a session or instance name goes into a gateway's URL
path (``/api/sessions/{name}``), an API key into an HTTP header, a base URL decides which server
receives that key. A bad value is refused with :class:`~chronoflow.errors.InvalidInput`
naming the field, at the API edge and again when a client is built, so a stored channel can never
make a run crash or send a request somewhere unintended.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from chronoflow.errors import InvalidInput

__all__ = [
    "MAX_API_KEY_LENGTH",
    "MAX_SESSION_NAME_LENGTH",
    "check_api_key",
    "check_base_url",
    "check_session_name",
    "same_server",
]

MAX_SESSION_NAME_LENGTH = 200
"""Longest session/instance name accepted (the database column's width)."""

MAX_API_KEY_LENGTH = 500
"""Longest per-channel API key accepted (the database column's width)."""

_PATH_SEGMENTS = frozenset({".", ".."})
"""Names a URL path would resolve instead of sending: ``/api/sessions/..`` is not a session."""


def check_session_name(value: object, field: str) -> str:
    """A session or instance name that is safe as one URL path segment.

    Refused: non-strings, empty, longer than :data:`MAX_SESSION_NAME_LENGTH`, ``.`` and ``..``,
    and names containing a slash, a backslash, whitespace or a control/format character.

    Raises:
        InvalidInput: naming ``field`` and the problem.
    """
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, "must be a non-empty session name")
    if len(value) > MAX_SESSION_NAME_LENGTH:
        raise InvalidInput(field, f"must be at most {MAX_SESSION_NAME_LENGTH} characters")
    if value in _PATH_SEGMENTS:
        raise InvalidInput(field, f"{value!r} is not a usable session name")
    for char in value:
        if char in "/\\":
            raise InvalidInput(field, f"must not contain {char!r}: the name is part of the gateway's URL path")
        category = unicodedata.category(char)
        if char.isspace() or category.startswith(("C", "Z")):
            raise InvalidInput(field, f"must not contain whitespace or control characters (found {char!r})")
    return value


def check_api_key(value: object, field: str) -> str | None:
    """An API key that can be sent as an HTTP header value; ``None`` or ``""`` mean no key.

    Raises:
        InvalidInput: not a string, too long, or containing non-ASCII or control characters.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if len(value) > MAX_API_KEY_LENGTH:
        raise InvalidInput(field, f"must be at most {MAX_API_KEY_LENGTH} characters")
    if not (value.isascii() and value.isprintable()):
        raise InvalidInput(field, "must be printable ASCII (it is sent in an HTTP header): no accents, "
                                  "emoji or control characters")
    if value != value.strip():
        raise InvalidInput(field, "must not start or end with a space")
    return value


def check_base_url(value: object, field: str) -> str:
    """An ``http://`` or ``https://`` URL with a host and a valid port, without a trailing slash.

    Raises:
        InvalidInput: anything else.
    """
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise InvalidInput(field, "must be an http:// or https:// URL")
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise InvalidInput(field, "must be an ASCII URL without spaces or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError as exc:
        raise InvalidInput(field, f"is not a valid URL: {exc}") from None
    if not parts.hostname:
        raise InvalidInput(field, "must name a host, e.g. http://waha:3000")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(field, "must not carry credentials, a query or a fragment")
    return value.rstrip("/")


def same_server(url: str, other: str) -> bool:
    """Whether two base URLs name the same server (scheme, host, port and path, case of host ignored)."""
    def key(raw: str) -> tuple[str, str, int | None, str]:
        try:
            parts = urlsplit(raw.rstrip("/"))
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return (raw, "", None, "")
        return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path
    return key(url) == key(other)
