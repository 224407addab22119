"""``/chronos``: create, read, list, update, delete, pause, resume, trigger, and run history."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from chronoflow.api.schemas import ChronoCreate, ChronoOut, ChronoUpdate, Page, RunOut, TriggerOut
from chronoflow.chronos import ChronoService
from chronoflow.runs import count_runs, latest_runs

Skip = Annotated[int, Parameter(ge=0, default=0, description="items to skip")]
Take = Annotated[int, Parameter(ge=1, le=500, default=50, description="items to return (1-500)")]


class ChronoController(Controller):
    path = "/chronos"
    tags = ["chronos"]

    @post("/", summary="Create a chrono")
    async def create(self, data: ChronoCreate, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.create(data.fields()))

    @get("/", summary="List chronos")
    async def list_chronos(
        self, chronos: ChronoService, skip: Skip = 0, take: Take = 50,
        target_type: Annotated[str | None, Parameter(query="targetType")] = None,
        is_active: Annotated[bool | None, Parameter(query="isActive")] = None,
    ) -> Page[ChronoOut]:
        rows, total = await chronos.list(skip, take, target_type, is_active)
        return Page(items=[ChronoOut.of(c) for c in rows], total=total, skip=skip, take=take)

    @get("/{chrono_id:str}", summary="Read a chrono")
    async def read(self, chrono_id: str, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.get(chrono_id))

    @patch("/{chrono_id:str}", summary="Update a chrono; reschedules when its schedule or state changes")
    async def update(self, chrono_id: str, data: ChronoUpdate, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.update(chrono_id, data.fields()))

    @delete("/{chrono_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a chrono and its job")
    async def remove(self, chrono_id: str, chronos: ChronoService) -> None:
        await chronos.delete(chrono_id)

    @post("/{chrono_id:str}/pause", status_code=200, summary="Pause: cancel its job")
    async def pause(self, chrono_id: str, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.pause(chrono_id))

    @post("/{chrono_id:str}/resume", status_code=200, summary="Resume: next occurrence computed from now")
    async def resume(self, chrono_id: str, chronos: ChronoService) -> ChronoOut:
        return ChronoOut.of(await chronos.resume(chrono_id))

    @post("/{chrono_id:str}/trigger", status_code=HTTP_202_ACCEPTED, summary="Run now, beside the schedule")
    async def trigger(self, chrono_id: str, chronos: ChronoService) -> TriggerOut:
        run = await chronos.trigger(chrono_id)
        return TriggerOut(run_id=run.id, chrono_id=chrono_id, status=run.status)

    @get("/{chrono_id:str}/runs", summary="Run history, newest first")
    async def runs(self, chrono_id: str, chronos: ChronoService, skip: Skip = 0, take: Take = 50) -> Page[RunOut]:
        await chronos.get(chrono_id)
        async with chronos.db.session() as session:
            rows = await latest_runs(session, chrono_id, skip, take)
            total = await count_runs(session, chrono_id)
        return Page(items=[RunOut.of(r) for r in rows], total=total, skip=skip, take=take)
