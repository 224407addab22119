"""Request bodies as JSON with a bounded nesting depth.

JSON decoders recurse once per level: a body of 5,000 nested brackets exhausts the stack while it
is decoded, or later when the value is serialized again for the database. Bodies are therefore
scanned before decoding and refused beyond :data:`MAX_JSON_DEPTH` levels, naming the top-level
field that holds the deep value. :class:`BoundedRequest` applies the check to every route that
decodes a JSON body; :func:`json_object` does the same for routes that read the raw bytes first
(provider webhooks verify a signature over them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from litestar import Request

from chronoflow.api.conformance import strict_body
from chronoflow.errors import InvalidInput

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a request body (the body itself is level 1)."""

_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:]')
"""Strings (skipped whole, so brackets inside them do not count), brackets, and colons."""


def _key(token: bytes | None) -> str | None:
    if token is None:
        return None
    try:
        key = json.loads(token)
    except ValueError:
        return None
    return key if isinstance(key, str) else None


def check_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse ``raw`` if its arrays and objects nest deeper than ``limit``.

    Raises:
        InvalidInput: naming the top-level field that holds the deep value (``body`` when the
            body itself is the deep array).
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return  # cannot nest deeper than the brackets it has
    depth = 0
    last_string: bytes | None = None
    field: bytes | None = None
    for match in _TOKENS.finditer(raw):
        token = match.group()
        first = token[:1]
        if first == b'"':
            if depth == 1:
                last_string = token
        elif first in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise InvalidInput(_key(field) or "body", f"is nested deeper than {limit} levels")
        elif first in (b"]", b"}"):
            depth -= 1
        elif depth == 1:  # a colon of the top-level object: the string before it is the key
            field = last_string


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` decoded as a JSON object of bounded depth; errors name ``body`` or the deep field."""
    check_depth(raw)
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidInput("body", "is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("body", "must be a JSON object")
    return value


class BoundedRequest(Request[Any, Any, Any]):
    """Litestar's request, with the depth check before the JSON body is decoded."""

    async def json(self) -> Any:
        check_depth(await self.body())
        return strict_body(await super().json(), self.route_handler)


__all__ = ["MAX_JSON_DEPTH", "BoundedRequest", "check_depth", "json_object"]
