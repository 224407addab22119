"""Two places where Litestar's defaults would make the API answer otherwise than its document says.

- Request bodies are converted in msgspec's lax mode, which takes ``0``/``1``/``"true"`` for a
  boolean and ``"5"`` for an integer. The document promises JSON booleans and integers (``5.0``
  is one, in JSON Schema), so :func:`strict_body` refuses the rest with a 400 naming the field.
- The automatic ``OPTIONS`` answer of a path served by several handlers lists only the methods of
  the first one registered (it keeps a reference to a route object that is later replaced).
  :func:`complete_allow_header` puts every method of the path in ``Allow``, as a 405 does.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import ValidationException
from litestar.types import Message, Scope

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.DOTALL)
"""msgspec's error text: the problem, then where it is (``$.isActive``, ``$.headers[...]``)."""
_NAMED = re.compile(r"(?:unknown|required) field `([^`]*)`")
"""A top-level field msgspec names in the problem itself (unknown, or missing)."""


def _integral(value: Any) -> Any:
    """``value`` with integral floats as ints: JSON Schema counts ``5.0`` as an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def strict_body(value: Any, route_handler: Any) -> Any:
    """``value`` (a decoded JSON body) if it converts strictly to the handler's body type.

    Raises:
        ValidationException: the first value that converts only loosely, named like Litestar's
            own validation errors (400).
    """
    field = getattr(route_handler, "parsed_data_field", None)
    target = getattr(field, "annotation", None)
    if not (isinstance(target, type) and issubclass(target, msgspec.Struct)):
        return value
    try:
        msgspec.convert(_integral(value), target, strict=True)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        message = match.group("message") if match else str(exc)
        path = (match.group("path") if match else None) or ""
        named = _NAMED.search(message)
        key = re.split(r"[.\[]", path, maxsplit=1)[0] or (named.group(1) if named else "body")
        raise ValidationException(detail=f"Validation failed for {key}",
                                  extra=[{"key": key, "message": message, "source": "body"}]) from None
    return value


def _path_methods(scope: Scope) -> list[str] | None:
    """Every method the matched path serves, from the route that holds the handler of ``scope``.

    A scan of the app's routes: ``OPTIONS`` requests are rare, and handlers cannot be weakly keyed.
    """
    handler = scope.get("route_handler")
    app = scope.get("app")
    if handler is None or app is None:
        return None
    for route in app.routes:
        if handler in getattr(route, "route_handlers", ()):
            return sorted(route.methods)
    return None


async def complete_allow_header(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the ``Allow`` of an ``OPTIONS`` answer names every method of the path."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = MutableScopeHeaders.from_message(message)
    if "allow" not in headers:
        return
    methods = _path_methods(scope)
    if methods:
        headers["Allow"] = ", ".join(methods)


__all__ = ["complete_allow_header", "strict_body"]
