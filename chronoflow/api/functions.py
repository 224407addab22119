"""``/functions``: create (checked in the sandbox), read, list, update (new version), delete, test."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.status_codes import HTTP_204_NO_CONTENT

from chronoflow.api.openapi import errors
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import Body, ChannelRef, Code, Description, Limits, Name, Page
from chronoflow.functions.running import FunctionOutcome
from chronoflow.functions.service import FunctionService
from chronoflow.store.models import Function


class FunctionCreate(Body):
    name: Name
    code: Code
    description: Description | None | msgspec.UnsetType = msgspec.UNSET
    limits: Limits | None | msgspec.UnsetType = msgspec.UNSET
    channel_id: ChannelRef | None | msgspec.UnsetType = msgspec.UNSET


class FunctionUpdate(Body):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    code: Code | msgspec.UnsetType = msgspec.UNSET
    description: Description | None | msgspec.UnsetType = msgspec.UNSET
    limits: Limits | None | msgspec.UnsetType = msgspec.UNSET
    channel_id: ChannelRef | None | msgspec.UnsetType = msgspec.UNSET
    state: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class FunctionTest(Body):
    extras: dict[str, Any] | None | msgspec.UnsetType = msgspec.UNSET
    persist_state: bool = False


class FunctionListItem(msgspec.Struct, rename="camel"):
    """A function in a list: all but ``code`` and ``state`` (up to 256 KiB and 1 MiB each), which
    ``GET /functions/{id}`` returns."""

    id: str
    name: str
    description: str | None
    version: int
    checksum: str
    limits: dict[str, Any]
    channel_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, function: Function) -> FunctionListItem:
        return cls(**cls._fields_of(function))

    @staticmethod
    def _fields_of(function: Function) -> dict[str, Any]:
        return {
            "id": function.id, "name": function.name, "description": function.description,
            "version": function.version, "checksum": function.checksum, "limits": function.limits or {},
            "channel_id": function.channel_id, "created_at": function.created_at,
            "updated_at": function.updated_at,
        }


class FunctionOut(FunctionListItem, kw_only=True):
    """One function, whole."""

    code: str
    state: dict[str, Any]

    @classmethod
    def of(cls, function: Function) -> FunctionOut:
        return cls(**cls._fields_of(function), code=function.code, state=function.state or {})


class TestOut(msgspec.Struct, rename="camel"):
    status: str
    result: Any
    logs: list[str]
    error: str | None
    traceback: str | None
    duration_ms: int
    http_count: int
    message_count: int
    messages: list[dict[str, Any]]
    opted_out: list[str]
    state: dict[str, Any] | None
    """The state after the run (success only); stored only with ``persistState``."""
    state_persisted: bool
    version: int

    @classmethod
    def of(cls, outcome: FunctionOutcome, persisted: bool) -> TestOut:
        result = outcome.sandbox
        return cls(
            status=result.status.value, result=result.result, logs=list(result.logs), error=result.error,
            traceback=result.traceback, duration_ms=result.duration_ms, http_count=result.http_count,
            message_count=result.message_count, messages=result.messages, opted_out=outcome.opted_out,
            state=result.state, state_persisted=persisted, version=outcome.version,
        )


class FunctionController(Controller):
    path = "/functions"
    tags = ["functions"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", summary="Upload a function (compiled in the sandbox; 422 with the line when refused)",
          responses=errors(400, 401, 413, 422, 503))
    async def create(self, data: FunctionCreate, functions: FunctionService) -> FunctionOut:
        return FunctionOut.of(await functions.create(data.fields()))

    @get("/", summary="List functions (without code and state: read one for those)", responses=errors(400, 401))
    async def list_functions(self, functions: FunctionService, skip: Skip = 0,
                             take: Take = 50) -> Page[FunctionListItem]:
        rows, total = await functions.list(skip, take)
        return Page(items=[FunctionListItem.of(f) for f in rows], total=total, skip=skip, take=take)

    @get("/{function_id:str}", summary="Read a function", responses=errors(400, 401, 404))
    async def read(self, function_id: str, functions: FunctionService) -> FunctionOut:
        return FunctionOut.of(await functions.get(function_id))

    @patch("/{function_id:str}", summary="Update a function; new code or limits bump its version",
           responses=errors(400, 401, 404, 413, 422, 503))
    async def update(self, function_id: str, data: FunctionUpdate, functions: FunctionService) -> FunctionOut:
        return FunctionOut.of(await functions.update(function_id, data.fields()))

    @delete("/{function_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a function no chrono uses",
            responses=errors(400, 401, 404, 409))
    async def remove(self, function_id: str, functions: FunctionService) -> None:
        await functions.delete(function_id)

    @post("/{function_id:str}/test", status_code=200,
          summary="Run it now with the given extras; the state is saved only with persistState",
          responses=errors(400, 401, 404, 413, 422, 503))
    async def test(self, function_id: str, data: FunctionTest, functions: FunctionService) -> TestOut:
        fields = data.fields()
        outcome = await functions.test(function_id, fields.get("extras"), data.persist_state)
        persisted = data.persist_state and outcome.sandbox.ok and outcome.sandbox.state is not None
        return TestOut.of(outcome, persisted)
