"""``/runs/{id}``: one run."""

from __future__ import annotations

from litestar import get

from chronoflow.api.openapi import errors
from chronoflow.api.schemas import RunOut
from chronoflow.errors import NotFound
from chronoflow.store.engine import Database
from chronoflow.store.models import ChronoRun


@get("/runs/{run_id:str}", tags=["runs"], summary="Read a run", responses=errors(400, 401, 404))
async def read_run(run_id: str, db: Database) -> RunOut:
    async with db.session() as session:
        run = await session.get(ChronoRun, run_id)
        if run is None:
            raise NotFound("run", run_id)
        return RunOut.of(run)
