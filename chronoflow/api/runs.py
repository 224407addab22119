"""``/runs/{id}``: one run."""

from __future__ import annotations

from litestar import get

from chronoflow.api.openapi import errors
from chronoflow.api.schemas import RunOut
from chronoflow.store.engine import Database
from chronoflow.store.lookups import get_or_404
from chronoflow.store.models import ChronoRun


@get("/runs/{run_id:str}", tags=["runs"], summary="Read a run", responses=errors(400, 401, 404))
async def read_run(run_id: str, db: Database) -> RunOut:
    async with db.session() as session:
        return RunOut.of(await get_or_404(session, ChronoRun, run_id, "run"))
