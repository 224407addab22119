"""Signing in and out, and the language switch."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from chronoflow.api.auth import known_token
from chronoflow.config import Settings
from chronoflow.console.forms import posted
from chronoflow.console.i18n import LANG_COOKIE
from chronoflow.console.messages import CATALOGS
from chronoflow.console.rendering import page
from chronoflow.console.session import PREFIX, safe_next, sign_in, sign_out, visitor

AnyRequest = Request[Any, Any, Any]


class AccessController(Controller):
    path = PREFIX

    @get("/signin")
    async def signin_form(self, request: AnyRequest, next_path: Annotated[str | None, Parameter(query="next")] = None) -> Template:
        return page(request, "signin.html", next=safe_next(next_path))

    @post("/signin", status_code=303)
    async def signin(self, request: AnyRequest, settings: Settings) -> Any:
        fields = await posted(request)
        token = fields.get("token", "").strip()
        if not known_token(token.encode(), tuple(t.encode() for t in settings.api_tokens)):
            message = visitor(request).speaker.t("bad_token")
            return page(request, "signin.html", status_code=401, errors={"token": message},
                        next=safe_next(fields.get("next")))
        return sign_in(Redirect(safe_next(fields.get("next")), status_code=303), request, token)

    @post("/signout", status_code=303)
    async def signout(self, request: AnyRequest) -> Redirect:
        await posted(request)
        return sign_out(Redirect(f"{PREFIX}/signin", status_code=303))  # type: ignore[return-value]

    @get("/language")
    async def language(self, to: str, back: str | None = None) -> Redirect:
        """Remember the chosen language (a preference, so a plain link), and go back."""
        response = Redirect(safe_next(back), status_code=303)
        if to in CATALOGS:
            response.set_cookie(LANG_COOKIE, to, path="/", samesite="lax", max_age=365 * 86400)
        return response
