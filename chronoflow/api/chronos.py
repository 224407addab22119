"""``/chronos``: create, read, list, update, delete, pause, resume, trigger, and run history."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from chronoflow.api.openapi import errors
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import (
    ChronoCreate,
    ChronoOut,
    ChronoUpdate,
    Page,
    RunOut,
    TriggerOut,
    chrono_columns,
    chrono_reader,
)
from chronoflow.chronos.service import ChronoService
from chronoflow.store.models import TargetType
from chronoflow.worker.runs import count_runs, latest_runs

LEFT_OUT_OF_LISTS = ("payload", "recipients", "extras", "message_template")
"""Chrono fields that can each be tens of kilobytes: ``GET /chronos`` leaves them out of its items,
``GET /chronos/{id}`` returns them."""

ChronoListItem: Any = msgspec.defstruct(
    "ChronoListItem",
    [(f.name, f.type, f.default) for f in msgspec.structs.fields(ChronoOut) if f.name not in LEFT_OUT_OF_LISTS],
    rename="camel",
    module=__name__,
)
"""A chrono as ``GET /chronos`` lists it: :class:`ChronoOut` without :data:`LEFT_OUT_OF_LISTS`.
Derived from it, so both always agree on every other field (and on what they hide)."""


LIST_COLUMNS = chrono_columns(ChronoListItem)
"""The columns a list item is made of (``hasSigningSecret`` is read from the secret, never shown)."""


list_item = chrono_reader(ChronoListItem, LIST_COLUMNS)
"""The list form of a chrono, from a row of :data:`LIST_COLUMNS` in that order."""


class ChronoController(Controller):
    path = "/chronos"
    tags = ["chronos"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", summary="Create a chrono", responses=errors(400, 401, 413, 422, 503))
    async def create(self, data: ChronoCreate, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.create(data.fields()))

    @get("/", summary="List chronos (without payload, recipients, extras and messageTemplate: read one for those)",
         responses=errors(400, 401))
    async def list_chronos(
        self, chronos: ChronoService, skip: Skip = 0, take: Take = 50,
        target_type: Annotated[TargetType | None, Parameter(query="targetType")] = None,
        is_active: Annotated[bool | None, Parameter(query="isActive")] = None,
        search: Annotated[str | None, Parameter(query="q", max_length=200,
                                                description="keep chronos whose name contains this, any case")] = None,
    ) -> Page[ChronoListItem]:
        rows, total = await chronos.list_rows(LIST_COLUMNS, skip, take, target_type, is_active, search)
        return Page(items=[list_item(c) for c in rows], total=total, skip=skip, take=take)

    @get("/{chrono_id:str}", summary="Read a chrono", responses=errors(400, 401, 404))
    async def read(self, chrono_id: str, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.get(chrono_id))

    @patch("/{chrono_id:str}", summary="Update a chrono; reschedules when its schedule or state changes",
           responses=errors(400, 401, 404, 413, 422, 503))
    async def update(self, chrono_id: str, data: ChronoUpdate, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.update(chrono_id, data.fields()))

    @delete("/{chrono_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a chrono and its job",
            responses=errors(400, 401, 404))
    async def remove(self, chrono_id: str, chronos: ChronoService) -> None:
        await chronos.delete(chrono_id)

    @post("/{chrono_id:str}/pause", status_code=200, summary="Pause: cancel its job", responses=errors(400, 401, 404))
    async def pause(self, chrono_id: str, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.pause(chrono_id))

    @post("/{chrono_id:str}/resume", status_code=200, summary="Resume: next occurrence computed from now",
          responses=errors(400, 401, 404, 409))
    async def resume(self, chrono_id: str, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.resume(chrono_id))

    @post("/{chrono_id:str}/trigger", status_code=HTTP_202_ACCEPTED, summary="Run now, beside the schedule",
          responses=errors(400, 401, 404))
    async def trigger(self, chrono_id: str, chronos: ChronoService) -> TriggerOut:
        run = await chronos.trigger(chrono_id)
        return TriggerOut(run_id=run.id, chrono_id=chrono_id, status=run.status)

    @get("/{chrono_id:str}/runs", summary="Run history, newest first", responses=errors(400, 401, 404))
    async def runs(self, chrono_id: str, chronos: ChronoService, skip: Skip = 0, take: Take = 50) -> Page[RunOut]:
        await chronos.get(chrono_id)
        async with chronos.db.session() as session:
            rows = await latest_runs(session, chrono_id, skip, take)
            total = await count_runs(session, chrono_id)
        return Page(items=[RunOut.of(r) for r in rows], total=total, skip=skip, take=take)
