"""Request ids: every response names its request, so a client's report finds the server's log line.

A sane incoming ``X-Request-Id`` (a proxy's, or the client's own) is kept; anything else is
replaced by a fresh random id. The id is computed once per request, on first use, and kept in the
ASGI scope: the error handlers, the log and the response header all read the same value.
"""

from __future__ import annotations

import re
import uuid

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

HEADER = "X-Request-Id"
"""Header that carries the id, in both directions."""

_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""What an incoming id may look like: short, printable, nothing that could forge a log line."""

_STATE_KEY = "chronoflow.request_id"


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE.fullmatch(text) else None
    return None


def request_id(scope: Scope) -> str:
    """This request's id: the client's if sane, else a new one; the same on every call."""
    state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
    known = state.get(_STATE_KEY)
    if isinstance(known, str):
        return known
    ident = _incoming(scope) or uuid.uuid4().hex
    state[_STATE_KEY] = ident
    return ident


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """``before_send`` hook: stamp the id on every HTTP response, errors and 404s included."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)[HEADER] = request_id(scope)


__all__ = ["HEADER", "add_request_id_header", "request_id"]
