"""Rendering a console page: its template, the visitor's language, and errors beside their fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import MediaType, Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from chronoflow.api.errors import status_of
from chronoflow.console.forms import field_key
from chronoflow.console.session import PREFIX, csrf_cookie, visitor
from chronoflow.errors import ChronoflowError

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

TEMPLATE_CONFIG = TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)
"""The app's template engine: Jinja, autoescaping, templates beside this module."""


def page(request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any) -> Template:
    """``template`` rendered for this visitor: ``t``, ``when``, ``num``, ``csrf`` and ``prefix`` are in scope."""
    seen = visitor(request)
    speaker = seen.speaker
    cookie = csrf_cookie(request)
    return Template(template_name=template, status_code=status_code, media_type=MediaType.HTML, cookies=[cookie] if cookie else None, context={
        "t": speaker.t, "when": speaker.when, "num": speaker.num, "locale": speaker.locale,
        "zone": speaker.zone.key, "csrf": seen.csrf, "signed_in": seen.signed_in, "prefix": PREFIX,
        "path": request.url.path, "errors": {}, **context,
    })


def refusal(exc: ChronoflowError) -> dict[str, Any]:
    """The page context of a refusal: the API's status, and its message keyed by the field it names."""
    key = field_key(getattr(exc, "field", None) if isinstance(getattr(exc, "field", None), str) else None)
    return {"status_code": status_of(exc), "errors": {key: str(exc)}, "error_extra": {"line": getattr(exc, "line", None)}}


def refused(request: Request[Any, Any, Any], template: str, exc: ChronoflowError, **context: Any) -> Template:
    """The form again, with the API's message beside the field it names (the API's status too)."""
    return page(request, template, **refusal(exc), **context)


__all__ = ["STATIC", "TEMPLATE_CONFIG", "page", "refusal", "refused"]
