"""Bearer-token authentication for every route but health, metrics, docs and provider webhooks."""

from __future__ import annotations

import hmac

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from chronoflow.errors import Unauthorized

PUBLIC_PATHS = (r"^/health$", r"^/metrics$", r"^/schema", r"^/waha/webhooks", r"^/evolution/webhooks", r"^/$",
                r"^/console(/|$)")
"""Routes that authenticate otherwise (webhooks verify signatures, the console its own cookie) or not at all."""


def known_token(token: bytes, tokens: tuple[bytes, ...]) -> bool:
    """Whether ``token`` is one of ``tokens``, compared in constant time (the console signs in with it too)."""
    return bool(token) and any(hmac.compare_digest(token, known) for known in tokens)


class BearerAuth(ASGIMiddleware):
    """Refuses a request without ``Authorization: Bearer <token>`` naming a configured token."""

    exclude_path_pattern = PUBLIC_PATHS
    exclude_opt_key = "public"
    scopes = (ScopeType.HTTP,)

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self.tokens = tuple(token.encode() for token in tokens)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if not header:
            raise Unauthorized("missing Authorization header: send 'Authorization: Bearer <token>'")
        if scheme.lower() != b"bearer" or not token.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        if not known_token(token.strip(), self.tokens):
            raise Unauthorized("invalid API token")
        await next_app(scope, receive, send)
