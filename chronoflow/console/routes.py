"""The console's routes, as one router the API app mounts: pages, the schedule preview, static files."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.static_files import create_static_files_router

from chronoflow.api.errors import domain_error, status_of
from chronoflow.console.pages import (
    AccessController,
    CampaignPages,
    ChannelPages,
    ChronoPages,
    ContactPages,
    FunctionPages,
    OverviewPage,
)
from chronoflow.console.pages.chronos import SchedulePreview
from chronoflow.console.pages.overview import root
from chronoflow.console.rendering import STATIC, page
from chronoflow.console.session import PREFIX, gatekeeper
from chronoflow.errors import ChronoflowError

AnyRequest = Request[Any, Any, Any]


def console_error(request: AnyRequest, exc: ChronoflowError) -> Response[Any]:
    """A refused console request: the API's JSON body for the script, an error page for a person."""
    if "application/json" in request.headers.get("accept", ""):
        return domain_error(request, exc)
    return page(request, "error.html", status_code=status_of(exc), message=str(exc))


def console_router() -> Router:
    """Every console route: outside the OpenAPI document and the bearer check (the cookie stands for it)."""
    static = create_static_files_router(path=f"{PREFIX}/static", directories=[STATIC], include_in_schema=False,
                                        opt={"public": True})
    return Router(
        path="/",
        route_handlers=[root, AccessController, OverviewPage, ChronoPages, SchedulePreview, FunctionPages,
                        ChannelPages, ContactPages, CampaignPages, static],
        include_in_schema=False,
        opt={"public": True},
        before_request=gatekeeper,
        exception_handlers={ChronoflowError: console_error},
    )


__all__ = ["console_router"]
