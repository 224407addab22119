"""Functions: list, editor with line numbers, and Test with extras (result, logs, error, failing line)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from chronoflow.api.functions import FunctionCreate, FunctionUpdate, TestOut
from chronoflow.api.paging import MAX_SKIP
from chronoflow.config import Settings
from chronoflow.console.forms import decoded, json_field, posted, without_unset
from chronoflow.console.rendering import page, refused
from chronoflow.console.session import PREFIX
from chronoflow.errors import ChronoflowError
from chronoflow.functions.service import FunctionService
from chronoflow.store.engine import Database

AnyRequest = Request[Any, Any, Any]
PAGE_SIZE = 20
STARTER = "def run(ctx):\n    ctx.log(\"hello\")\n    return {\"ok\": True}\n"
"""The code a new function starts with."""

_USER_FRAME = re.compile(r'File "<function>", line (\d+)')


def failing_line(traceback: str | None) -> int | None:
    """The line of the user's code where a failed run stopped: the innermost ``<function>`` frame."""
    found = _USER_FRAME.findall(traceback or "")
    return int(found[-1]) if found else None


class FunctionPages(Controller):
    path = f"{PREFIX}/functions"

    @get("/")
    async def list_page(self, request: AnyRequest, db: Database, settings: Settings,
                        skip: Annotated[int, Parameter(ge=0, le=MAX_SKIP)] = 0) -> Template:
        rows, total = await FunctionService(db, settings).list(skip, PAGE_SIZE)
        return page(request, "functions.html", functions=rows, total=total, skip=skip, take=PAGE_SIZE)

    @get("/new")
    async def new_form(self, request: AnyRequest) -> Template:
        return page(request, "function.html", function=None, values={"name": "", "code": STARTER})

    @post("/new", status_code=303)
    async def create(self, request: AnyRequest, db: Database, settings: Settings) -> Any:
        fields = await posted(request)
        try:
            body = decoded(without_unset({"name": fields.get("name", ""), "code": fields.get("code", "")}),
                           FunctionCreate)
            function = await FunctionService(db, settings).create(body.fields())
        except ChronoflowError as exc:
            return refused(request, "function.html", exc, function=None, values=fields)
        return Redirect(f"{PREFIX}/functions/{function.id}", status_code=303)

    @get("/{function_id:str}")
    async def editor(self, request: AnyRequest, function_id: str, db: Database, settings: Settings) -> Template:
        function = await FunctionService(db, settings).get(function_id)
        return page(request, "function.html", function=function,
                    values={"name": function.name, "code": function.code, "extras": ""})

    @post("/{function_id:str}", status_code=303)
    async def save(self, request: AnyRequest, function_id: str, db: Database, settings: Settings) -> Any:
        service = FunctionService(db, settings)
        function = await service.get(function_id)
        fields = await posted(request)
        try:
            body = decoded({"name": fields.get("name", ""), "code": fields.get("code", "")}, FunctionUpdate)
            await service.update(function_id, body.fields())
        except ChronoflowError as exc:
            return refused(request, "function.html", exc, function=function, values=fields)
        return Redirect(f"{PREFIX}/functions/{function_id}", status_code=303)

    @post("/{function_id:str}/test", status_code=200)
    async def test(self, request: AnyRequest, function_id: str, db: Database, settings: Settings) -> Template:
        """Run the stored code now with the extras given, as ``POST /functions/{id}/test`` does."""
        service = FunctionService(db, settings)
        function = await service.get(function_id)
        fields = await posted(request)
        values = {"name": function.name, "code": function.code, "extras": fields.get("extras", "")}
        try:
            extras = json_field(fields, "extras")
            outcome = await service.test(function_id, None if extras is msgspec.UNSET else extras, False)
        except ChronoflowError as exc:
            return refused(request, "function.html", exc, function=function, values=values)
        result = TestOut.of(outcome, False)
        return page(request, "function.html", function=function, values=values, test=result,
                    line=failing_line(result.traceback))
