"""Chronos: list with search and filters, create and edit, detail with run history and actions."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Response, Template

from chronoflow.api.paging import MAX_SKIP
from chronoflow.api.schedules import preview
from chronoflow.api.schemas import ChronoCreate, ChronoUpdate, RunOut
from chronoflow.channels.service import ChannelService
from chronoflow.chronos.service import ChronoService
from chronoflow.config import SAFE_METHODS, Settings
from chronoflow.console.forms import decoded, json_field, lines_field, posted, without_unset
from chronoflow.console.rendering import page, refused
from chronoflow.console.session import PREFIX
from chronoflow.errors import ChronoflowError
from chronoflow.functions.service import FunctionService
from chronoflow.store.models import Chrono, TargetType
from chronoflow.worker.runs import count_runs, latest_runs

AnyRequest = Request[Any, Any, Any]
PAGE_SIZE = 20
"""Rows per page of the chrono list and of a run history."""
ACTIONS = ("pause", "resume", "trigger", "delete")

Skip = Annotated[int, Parameter(ge=0, le=MAX_SKIP)]


def _target_fields(fields: dict[str, str], target: str) -> dict[str, Any]:
    """The inputs of the chosen target, as the API names them; the other targets' inputs are ignored."""
    if target == TargetType.HTTP:
        return {"url": fields.get("url", ""), "method": fields.get("method") or "GET",
                "payload": json_field(fields, "payload")}
    if target == TargetType.MESSAGE:
        return {"channelId": fields.get("channelId") or None, "messageTemplate": fields.get("messageTemplate", ""),
                "recipients": lines_field(fields, "recipients")}
    if target == TargetType.FUNCTION:
        return {"functionId": fields.get("functionId") or None, "extras": json_field(fields, "extras")}
    return {}


def _chrono_fields(fields: dict[str, str]) -> dict[str, Any]:
    target = fields.get("targetType", "")
    common = {"name": fields.get("name", ""), "cron": fields.get("cron", ""),
              "timezone": fields.get("timezone", ""), "targetType": target,
              "description": fields.get("description") or None}
    return without_unset({**common, **_target_fields(fields, target)})


def _form_values(chrono: Chrono | None, fields: dict[str, str] | None = None) -> dict[str, str]:
    """What the form's inputs show: the posted values after a refusal, else the stored chrono's."""
    if fields is not None:
        return fields
    if chrono is None:
        return {"targetType": "HTTP", "method": "GET"}
    return {
        "name": chrono.name, "cron": chrono.cron, "timezone": chrono.timezone, "targetType": chrono.target_type,
        "description": chrono.description or "", "url": chrono.url or "", "method": chrono.method or "GET",
        "payload": msgspec.json.encode(chrono.payload).decode() if chrono.payload is not None else "",
        "channelId": chrono.channel_id or "", "messageTemplate": chrono.message_template or "",
        "recipients": "\n".join(str(r) if not isinstance(r, dict) else str(r.get("phone", "")) for r in
                                chrono.recipients or []),
        "functionId": chrono.function_id or "",
        "extras": msgspec.json.encode(chrono.extras).decode() if chrono.extras else "",
    }


class ChronoPages(Controller):
    path = f"{PREFIX}/chronos"

    async def _choices(self, chronos: ChronoService, settings: Settings) -> dict[str, Any]:
        functions, _ = await FunctionService(chronos.db, settings).list(0, 100)
        channels, _ = await ChannelService(chronos.db, settings).list(0, 100, None)
        return {"targets": [k.value for k in TargetType], "methods": SAFE_METHODS, "functions": functions,
                "channels": channels}

    @get("/")
    async def list_page(self, request: AnyRequest, chronos: ChronoService, skip: Skip = 0,
                        q: Annotated[str | None, Parameter(max_length=200)] = None,
                        target: Annotated[str | None, Parameter(query="target")] = None,
                        active: Annotated[str | None, Parameter(query="active")] = None) -> Template:
        kind = target if target in {k.value for k in TargetType} else None
        is_active = {"yes": True, "no": False}.get(active or "")
        rows, total = await chronos.list(skip, PAGE_SIZE, kind, is_active, q or None)
        return page(request, "chronos.html", chronos=rows, total=total, skip=skip, take=PAGE_SIZE, q=q or "",
                    target=kind or "", active=active or "", targets=[k.value for k in TargetType])

    @get("/new")
    async def new_form(self, request: AnyRequest, chronos: ChronoService, settings: Settings) -> Template:
        return page(request, "chrono_form.html", chrono=None, values=_form_values(None),
                    **await self._choices(chronos, settings))

    @post("/new", status_code=303)
    async def create(self, request: AnyRequest, chronos: ChronoService, settings: Settings) -> Any:
        fields = await posted(request)
        try:
            body = decoded(_chrono_fields(fields), ChronoCreate)
            chrono = await chronos.create(body.fields())
        except ChronoflowError as exc:
            return refused(request, "chrono_form.html", exc, chrono=None, values=_form_values(None, fields),
                           **await self._choices(chronos, settings))
        return Redirect(f"{PREFIX}/chronos/{chrono.id}", status_code=303)

    @get("/{chrono_id:str}")
    async def detail(self, request: AnyRequest, chrono_id: str, chronos: ChronoService, skip: Skip = 0) -> Template:
        chrono = await chronos.get(chrono_id)
        return page(request, "chrono.html", chrono=chrono, **await self._runs(chronos, chrono_id, skip))

    @get("/{chrono_id:str}/runs")
    async def runs_fragment(self, request: AnyRequest, chrono_id: str, chronos: ChronoService,
                            skip: Skip = 0) -> Template:
        """The run table alone: the page's script swaps it in, so a new run shows without reloading."""
        await chronos.get(chrono_id)
        return page(request, "_runs.html", **await self._runs(chronos, chrono_id, skip))

    @staticmethod
    async def _runs(chronos: ChronoService, chrono_id: str, skip: int) -> dict[str, Any]:
        async with chronos.db.session() as session:
            rows = await latest_runs(session, chrono_id, skip, PAGE_SIZE)
            total = await count_runs(session, chrono_id)
        return {"runs": [RunOut.of(r) for r in rows], "runs_total": total, "skip": skip, "take": PAGE_SIZE,
                "chrono_id": chrono_id}

    @get("/{chrono_id:str}/edit")
    async def edit_form(self, request: AnyRequest, chrono_id: str, chronos: ChronoService,
                        settings: Settings) -> Template:
        chrono = await chronos.get(chrono_id)
        return page(request, "chrono_form.html", chrono=chrono, values=_form_values(chrono),
                    **await self._choices(chronos, settings))

    @post("/{chrono_id:str}/edit", status_code=303)
    async def update(self, request: AnyRequest, chrono_id: str, chronos: ChronoService, settings: Settings) -> Any:
        chrono = await chronos.get(chrono_id)
        fields = await posted(request)
        try:
            body = decoded(_chrono_fields(fields), ChronoUpdate)
            await chronos.update(chrono_id, body.fields())
        except ChronoflowError as exc:
            return refused(request, "chrono_form.html", exc, chrono=chrono, values=_form_values(chrono, fields),
                           **await self._choices(chronos, settings))
        return Redirect(f"{PREFIX}/chronos/{chrono_id}", status_code=303)

    @post("/{chrono_id:str}/{action:str}", status_code=303)
    async def act(self, request: AnyRequest, chrono_id: str, action: str, chronos: ChronoService) -> Any:
        """Pause, Resume, Run now or Delete: the API's operation of the same name."""
        await posted(request)
        chrono = await chronos.get(chrono_id)
        try:
            if action == "delete":
                await chronos.delete(chrono_id)
                return Redirect(f"{PREFIX}/chronos/", status_code=303)
            if action not in ACTIONS:
                return Redirect(f"{PREFIX}/chronos/{chrono_id}", status_code=303)
            await getattr(chronos, action)(chrono_id)
        except ChronoflowError as exc:
            return refused(request, "chrono.html", exc, chrono=chrono, **await self._runs(chronos, chrono_id, 0))
        return Redirect(f"{PREFIX}/chronos/{chrono_id}", status_code=303)


class SchedulePreview(Controller):
    """The schedule preview the form's script asks for as the user types."""

    path = f"{PREFIX}/schedules"

    @post("/parse", status_code=200)
    async def parse(self, request: AnyRequest, settings: Settings) -> Response[Any]:
        fields = await posted(request)
        return Response(preview(fields.get("expression", ""), fields.get("timezone") or None, settings))
