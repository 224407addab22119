"""The fake gateway's tiny HTTP vocabulary: a parsed request, a response, and a route table."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from chronoflow.devtools.fake_whatsapp.state import FakeState

__all__ = ["BadRequest", "Request", "Response", "Router", "json_response"]


class BadRequest(Exception):
    """Raised by a handler to answer 400 with this message (e.g. invalid JSON)."""


@dataclass(frozen=True)
class Request:
    """One HTTP request as the handlers see it; header names are lower-cased."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; an empty body is ``{}``.

        Raises:
            BadRequest: the body is not JSON.
        """
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(f"body is not JSON: {exc}") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object.

        Raises:
            BadRequest: not JSON, or not an object.
        """
        data = self.json()
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        return data


@dataclass
class Response:
    """What a handler answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(data).encode("utf-8"), {"Content-Type": "application/json"})


Handler = Callable[..., Response]
"""``handler(state, request, **path_params) -> Response``."""


class Router:
    """Routes ``(method, path pattern)`` to handlers; ``{name}`` in a pattern matches one segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for ``method`` and ``pattern``."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$")

        def register(handler: Handler) -> Handler:
            self._routes.append((method, regex, handler))
            return handler

        return register

    def dispatch(self, state: FakeState, request: Request) -> Response | None:
        """Run the matching handler; ``None`` when no route matches the path and method."""
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                return handler(state, request, **{k: unquote(v) for k, v in match.groupdict().items()})
        return None

    def matches_path(self, path: str) -> bool:
        """Whether some route (any method) serves this path, to tell 404 from 405."""
        return any(regex.match(path) for _, regex, _ in self._routes)
