"""Jobs already queued name their function ``chronoflow.worker.execute_occurrence``: it must resolve."""

from __future__ import annotations

from rq.utils import import_attribute

from chronoflow.scheduling.jobs import RUN_FUNC
from chronoflow.worker.execute import execute_occurrence


def test_the_dotted_name_stored_in_jobs_resolves_to_the_job_function() -> None:
    assert RUN_FUNC == "chronoflow.worker.execute_occurrence"
    assert import_attribute(RUN_FUNC) is execute_occurrence
