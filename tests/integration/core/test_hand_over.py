"""The scheduler hands the schedule jobs due in one pass over together, with the outcome of one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from redis.client import Pipeline
from rq.job import Job, JobStatus

from chronoflow.scheduling.jobs import (
    COALESCED_PREFIX,
    JobStore,
    ScheduleSpec,
    occurrence_job_id,
    retry_job_id,
)
from chronoflow.scheduling.scheduler import ChronoScheduler
from tests.integration.conftest import Stack

DAY = 86_400


def _daily_chronos(stack: Stack, count: int) -> tuple[list[str], float]:
    """``count`` chronos firing at the same instant every day, and that instant."""
    ids = [stack.create_http_chrono("http://127.0.0.1:9/hook", cron="0 8 * * *", misfireGraceSeconds=60)["id"]
           for _ in range(count)]
    [due] = {stack.jobs.scheduled_due(chrono_id) for chrono_id in ids}
    return ids, due


def _occurrence(chrono_id: str, due: float) -> bytes:
    return occurrence_job_id(chrono_id, datetime.fromtimestamp(due, UTC), 1).encode()


def test_a_pass_queues_each_due_chrono_once_and_folds_into_occurrences_still_waiting(
        sqlite_stack: Stack) -> None:
    """It queues one occurrence per due chrono, then folds the next into the one no worker has taken."""
    stack = sqlite_stack
    ids, due = _daily_chronos(stack, 3)
    assert stack.hand_over(due) == 3
    assert sorted(stack.queued()) == sorted(_occurrence(chrono_id, due) for chrono_id in ids)
    assert {stack.jobs.scheduled_due(chrono_id) for chrono_id in ids} == {due + DAY}

    # A worker takes the first chrono's occurrence; the other two still wait in the queue.
    taken = Job.fetch(_occurrence(ids[0], due).decode(), connection=stack.redis)
    taken.set_status(JobStatus.STARTED)
    stack.redis.lrem(f"rq:queue:{stack.settings.queue_name}", 1, taken.id)

    assert stack.hand_over(due + DAY) == 3
    assert sorted(stack.queued()) == sorted([_occurrence(ids[0], due + DAY), _occurrence(ids[1], due),
                                             _occurrence(ids[2], due)])
    folded = [stack.redis.hget(COALESCED_PREFIX + chrono_id, "count") for chrono_id in ids]
    assert folded == [None, b"1", b"1"]
    assert {stack.jobs.scheduled_due(chrono_id) for chrono_id in ids} == {due + 2 * DAY}


def test_jobs_due_in_one_pass_are_queued_in_the_order_they_fell_due(sqlite_stack: Stack) -> None:
    """It queues a retry due before two chronos' occurrences ahead of them, and one due after them behind."""
    stack = sqlite_stack
    ids, due = _daily_chronos(stack, 2)
    earlier, later = (datetime.fromtimestamp(due - DAY, UTC), datetime.fromtimestamp(due - DAY + 60, UTC))
    stack.jobs.schedule_retry(ids[0], earlier, 2, datetime.fromtimestamp(due - 0.5, UTC))
    stack.jobs.schedule_retry(ids[1], later, 2, datetime.fromtimestamp(due + 0.5, UTC))
    assert stack.hand_over(due + 1) == 4
    queued = stack.queued()
    assert queued[0] == retry_job_id(ids[0], earlier, 2).encode()
    assert sorted(queued[1:3]) == sorted(_occurrence(chrono_id, due) for chrono_id in ids)
    assert queued[3] == retry_job_id(ids[1], later, 2).encode()


class _Meddling(JobStore):
    """A job store through which something else writes between the batch's reads and its writes."""

    def __init__(self, stack: Stack, meddle: object) -> None:
        super().__init__(stack.redis, stack.settings.queue_name)
        self.meddle = meddle
        self.moved: str | None = None

    def read_schedules(self, chrono_ids: Sequence[str]) -> list[tuple[ScheduleSpec | None, float | None]]:
        read = super().read_schedules(chrono_ids)
        if len(chrono_ids) > 1 and self.meddle == "update":  # the API moves the first chrono on meanwhile
            spec = read[0][0]
            assert spec is not None
            self.put_schedule(replace(spec, due=spec.due + timedelta(hours=1)))
            self.moved = spec.chrono_id
        return read

    def waiting_occurrences(self, chrono_ids: Sequence[str], watching: Pipeline) -> set[str]:
        waiting = super().waiting_occurrences(chrono_ids, watching)
        if len(chrono_ids) > 1 and self.meddle == "take":  # a worker takes a waiting occurrence meanwhile
            job_id = self.redis.lindex(self.queue.key, 0).decode()
            Job.fetch(job_id, connection=self.redis).set_status(JobStatus.STARTED)
            self.redis.lrem(self.queue.key, 1, job_id)
        return waiting


def test_a_chrono_changed_during_a_pass_is_handed_over_as_changed(sqlite_stack: Stack) -> None:
    """It hands the batch over one job at a time when a chrono changes between its read and its writes."""
    stack = sqlite_stack
    ids, due = _daily_chronos(stack, 3)
    jobs = _Meddling(stack, "update")
    assert ChronoScheduler(stack.redis, jobs).hand_over_due(due) == 2
    others = [chrono_id for chrono_id in ids if chrono_id != jobs.moved]
    assert len(others) == 2
    assert sorted(stack.queued()) == sorted(_occurrence(chrono_id, due) for chrono_id in others)
    assert stack.jobs.scheduled_due(jobs.moved) == due + 3600
    assert [stack.jobs.scheduled_due(chrono_id) for chrono_id in others] == [due + DAY, due + DAY]


def test_an_occurrence_taken_during_a_pass_is_not_folded_into(sqlite_stack: Stack) -> None:
    """It queues a new occurrence rather than fold into one a worker took between the read and the writes."""
    stack = sqlite_stack
    ids, due = _daily_chronos(stack, 2)
    assert stack.hand_over(due) == 2
    first_queued = stack.queued()[0]
    assert ChronoScheduler(stack.redis, _Meddling(stack, "take")).hand_over_due(due + DAY) == 2
    taken = next(chrono_id for chrono_id in ids if _occurrence(chrono_id, due) == first_queued)
    waiting = next(chrono_id for chrono_id in ids if chrono_id != taken)
    assert sorted(stack.queued()) == sorted([_occurrence(waiting, due), _occurrence(taken, due + DAY)])
    assert stack.redis.hget(COALESCED_PREFIX + taken, "count") is None
    assert stack.redis.hget(COALESCED_PREFIX + waiting, "count") == b"1"
