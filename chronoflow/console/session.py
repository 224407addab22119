"""Signing in to the console, and what every console request knows about its user.

The console signs in with an API token, the same credential the REST API takes, and keeps it in an
HttpOnly, SameSite=Strict cookie (Secure over https), so page scripts never read it. Forms carry a
double-submit token: a random ``cf_csrf`` cookie echoed in a hidden field (or the
``X-CSRF-Token`` header of the script's requests); another site can make the browser send the
cookie but cannot read it to write the field.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect

from chronoflow.api.auth import known_token
from chronoflow.config import Settings
from chronoflow.console.i18n import LANG_COOKIE, TZ_COOKIE, Speaker, negotiate, zone_or_default

SESSION_COOKIE = "cf_session"
"""Cookie holding the signed-in API token."""
CSRF_COOKIE = "cf_csrf"
"""Cookie holding the double-submit token."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
PREFIX = "/console"
OPEN_PATHS = (f"{PREFIX}/signin", f"{PREFIX}/static/", f"{PREFIX}/language")
"""Console paths reachable before signing in."""
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True)
class Visitor:
    """What a console page knows of its user: language, zone, CSRF token, signed in or not."""

    speaker: Speaker
    csrf: str
    new_csrf: bool
    signed_in: bool


def visitor(request: AnyRequest) -> Visitor:
    """The request's :class:`Visitor`, built once and kept on ``request.state``."""
    found = request.state.get("console_visitor")
    if isinstance(found, Visitor):
        return found
    settings: Settings = request.app.state["settings"]
    cookies = request.cookies
    csrf = cookies.get(CSRF_COOKIE) or ""
    new_csrf = len(csrf) < 32
    if new_csrf:
        csrf = secrets.token_urlsafe(32)
    speaker = Speaker(negotiate(cookies.get(LANG_COOKIE), request.headers.get("accept-language")),
                      zone_or_default(cookies.get(TZ_COOKIE), settings.default_timezone))
    token = cookies.get(SESSION_COOKIE, "").encode()
    tokens = tuple(t.encode() for t in settings.api_tokens)
    made = Visitor(speaker=speaker, csrf=csrf, new_csrf=new_csrf, signed_in=known_token(token, tokens))
    request.state["console_visitor"] = made
    return made


def csrf_matches(request: AnyRequest, sent: str | None) -> bool:
    """Whether the form field or header echoes the request's own CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    sent = sent or request.headers.get(CSRF_HEADER) or ""
    return len(cookie) >= 32 and hmac.compare_digest(cookie.encode(), sent.encode())


def gatekeeper(request: AnyRequest) -> Response[Any] | None:
    """Send a visitor who is not signed in to the sign-in page (the console's ``before_request``)."""
    path = request.url.path
    if path.startswith(OPEN_PATHS) or visitor(request).signed_in:
        return None
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{PREFIX}/signin?next={quote(target, safe='')}", status_code=303)


def csrf_cookie(request: AnyRequest) -> Cookie | None:
    """The CSRF cookie to hand the browser, when this request came without one."""
    seen = visitor(request)
    if not seen.new_csrf:
        return None
    return Cookie(key=CSRF_COOKIE, value=seen.csrf, path=PREFIX, httponly=True, samesite="strict",
                  secure=request.url.scheme == "https")


def sign_in(response: Response[Any], request: AnyRequest, token: str) -> Response[Any]:
    """Keep ``token`` in the session cookie: HttpOnly, SameSite=Strict, Secure over https."""
    response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def sign_out(response: Response[Any]) -> Response[Any]:
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/"


__all__ = ["CSRF_FIELD", "PREFIX", "SAFE_METHODS", "Visitor", "csrf_cookie", "csrf_matches", "gatekeeper",
           "safe_next", "sign_in", "sign_out", "visitor"]
