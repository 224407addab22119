"""Invariant 1: an active chrono has exactly one scheduled job, after every API call."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from chronoflow.chronos.service import ChronoService, schedule_spec
from chronoflow.errors import Conflict
from chronoflow.scheduling.jobs import SCHEDULED_JOBS_KEY
from chronoflow.store.models import Chrono
from tests.integration.conftest import Stack
from tests.services import CountingDatabase


def test_it_keeps_one_job_through_the_whole_lifecycle(stack: Stack) -> None:
    """It keeps one job while active and none while paused, inactive or deleted."""
    chrono = stack.create_http_chrono("http://127.0.0.1:9/hook", cron="0 8 * * *")
    cid = chrono["id"]
    assert stack.jobs.count_schedule_jobs(cid) == 1
    assert stack.jobs.scheduled_due(cid) == datetime.fromisoformat(chrono["nextRunAt"]).timestamp()

    assert stack.api.post(f"/chronos/{cid}/pause").status_code == 200
    assert stack.jobs.count_schedule_jobs(cid) == 0
    assert stack.api.get(f"/chronos/{cid}").json()["nextRunAt"] is None

    resumed = stack.api.post(f"/chronos/{cid}/resume").json()
    assert stack.jobs.count_schedule_jobs(cid) == 1
    assert resumed["isActive"] is True and resumed["nextRunAt"] is not None

    updated = stack.api.patch(f"/chronos/{cid}", json={"cron": "30 9 * * *", "timezone": "America/Sao_Paulo"}).json()
    assert stack.jobs.count_schedule_jobs(cid) == 1
    due = datetime.fromtimestamp(stack.jobs.scheduled_due(cid), UTC)
    assert due == datetime.fromisoformat(updated["nextRunAt"])
    assert (due.hour, due.minute) == (12, 30)  # 09:30 in São Paulo (UTC-3)

    stack.api.patch(f"/chronos/{cid}", json={"name": "renamed"})
    assert stack.jobs.count_schedule_jobs(cid) == 1

    stack.api.patch(f"/chronos/{cid}", json={"isActive": False})
    assert stack.jobs.count_schedule_jobs(cid) == 0
    stack.api.patch(f"/chronos/{cid}", json={"isActive": True})
    assert stack.jobs.count_schedule_jobs(cid) == 1

    trigger = stack.api.post(f"/chronos/{cid}/trigger")
    assert trigger.status_code == 202
    assert stack.jobs.count_schedule_jobs(cid) == 1
    assert f"manual_{trigger.json()['runId']}".encode() in stack.queued()

    assert stack.api.delete(f"/chronos/{cid}").status_code == 204
    assert stack.jobs.count_schedule_jobs(cid) == 0
    assert stack.api.get(f"/chronos/{cid}").status_code == 404


def test_chronos_created_together_share_a_transaction_and_each_gets_its_job(stack: Stack) -> None:
    """It writes 30 creations arriving at once in one or two transactions, each row with its one job."""
    service = ChronoService(stack.db, stack.jobs, stack.settings)
    counting = CountingDatabase(stack.db)
    service.creations.db = counting  # type: ignore[assignment]

    async def create_all() -> list[Chrono]:
        return list(await asyncio.gather(*(service.create({
            "name": f"together-{i}", "cron": f"{i} 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/hook",
        }) for i in range(30))))

    chronos = stack.db_run(create_all())
    assert counting.transactions <= 2
    assert len({chrono.id for chrono in chronos}) == 30
    for chrono in chronos:
        stored = stack.api.get(f"/chronos/{chrono.id}").json()
        assert stored["name"] == chrono.name
        assert stack.jobs.count_schedule_jobs(chrono.id) == 1
        assert stack.jobs.scheduled_due(chrono.id) == datetime.fromisoformat(stored["nextRunAt"]).timestamp()


def test_a_chrono_whose_function_vanished_before_its_insert_is_a_409_and_leaves_nothing(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """It answers Conflict naming functionId, with no row and no job, when the function is gone at insert time.

    The fields are checked before the write transaction; a function deleted in between is found by
    the foreign key. The check is made to pass with an id no function has, as if deleted meanwhile.
    """
    service = ChronoService(stack.db, stack.jobs, stack.settings)
    checked = service._validated

    async def validated_then_deleted(fields: dict[str, Any], session: Any, now: datetime) -> dict[str, Any]:
        values = await checked(fields, session, now)
        return {**values, "target_type": "FUNCTION", "url": None, "method": None, "headers": None,
                "payload": None, "signing_secret": None, "function_id": "deleted-meanwhile"}

    monkeypatch.setattr(service, "_validated", validated_then_deleted)
    monkeypatch.setattr("chronoflow.chronos.service.refuse_foreign_fields", lambda fields, target_type: None)
    with pytest.raises(Conflict) as refused:
        stack.db_run(service.create({"name": "orphan", "cron": "0 8 * * *", "targetType": "HTTP",
                                     "url": "http://127.0.0.1:9/hook"}))
    assert refused.value.field == "functionId"
    assert stack.api.get("/chronos").json()["total"] == 0
    assert stack.redis.zcard(SCHEDULED_JOBS_KEY) == 0


def test_a_one_shot_has_no_job_after_its_run(stack: Stack, http_receiver) -> None:
    """It runs a one-shot once, then deactivates it and leaves no job."""
    at = datetime.now(UTC) + timedelta(seconds=30)
    chrono = stack.create_http_chrono(http_receiver.url + "/once", cron=at.isoformat())
    cid = chrono["id"]
    assert chrono["isRecurring"] is False
    assert stack.jobs.count_schedule_jobs(cid) == 1
    assert stack.hand_over(at.timestamp() - 0.001) == 0, "handed over before it was due"
    assert stack.hand_over(at.timestamp()) == 1
    assert stack.jobs.count_schedule_jobs(cid) == 0
    stack.drain()
    assert len(http_receiver.wait_for(1)) == 1
    stored = stack.api.get(f"/chronos/{cid}").json()
    assert stored["isActive"] is False and stored["nextRunAt"] is None and stored["lastRunStatus"] == "success"
    assert stack.jobs.count_schedule_jobs(cid) == 0


def test_recurring_occurrences_are_rescheduled_from_their_own_fire_time(stack: Stack) -> None:
    """It computes each next occurrence from the previous fire time, not from when the hand-over ran."""
    chrono = stack.create_http_chrono("http://127.0.0.1:9/x", cron="*/10 * * * *")
    cid = chrono["id"]
    first = stack.jobs.scheduled_due(cid)
    assert stack.hand_over(first + 3.7) == 1  # handed over 3.7 s late
    second = stack.jobs.scheduled_due(cid)
    assert second - first == 600.0
    assert stack.jobs.count_schedule_jobs(cid) == 1


def test_reconcile_adds_missing_and_removes_orphan_jobs(stack: Stack) -> None:
    """It rebuilds Redis from the database: missing jobs come back, orphan jobs go."""
    from chronoflow.scheduling.jobs import ScheduleSpec
    from chronoflow.scheduling.reconciler import reconcile

    kept = stack.create_http_chrono("http://127.0.0.1:9/a", cron="0 8 * * *")
    paused = stack.create_http_chrono("http://127.0.0.1:9/b", cron="0 9 * * *")
    stack.api.post(f"/chronos/{paused['id']}/pause")
    due_before = stack.jobs.scheduled_due(kept["id"])
    stack.redis.flushall()
    stack.jobs.put_schedule(ScheduleSpec("no-such-chrono", datetime.now(UTC), "* * * * *", "* * * * *", None, "UTC", 60))

    report = stack.db_run(reconcile(stack.db, stack.jobs))
    assert report.added == [kept["id"]]
    assert report.removed == ["no-such-chrono"]
    assert stack.jobs.scheduled_due(kept["id"]) == due_before
    assert stack.jobs.count_schedule_jobs(paused["id"]) == 0
    assert stack.db_run(reconcile(stack.db, stack.jobs)).added == []


def test_a_job_that_reaches_a_worker_before_its_transaction_commits_still_runs(stack: Stack, http_receiver) -> None:
    """It runs an occurrence whose job was written inside a transaction that had not committed yet, as
    activating a chrono or arming a campaign's next step does: the worker's claim waits for the commit
    instead of reading the chrono as inactive and dropping the occurrence."""
    later = datetime.now(UTC) + timedelta(days=1)
    cid = stack.create_http_chrono(http_receiver.url + "/late-commit", cron=later.isoformat(), isActive=False)["id"]
    chrono = stack.chrono(cid)
    assert chrono is not None and stack.jobs.count_schedule_jobs(cid) == 0
    due = datetime.now(UTC)
    chrono.is_active, chrono.run_at = True, due
    transaction = stack.db.session(write=True)
    session = stack.db_run(transaction.__aenter__())
    stack.db_run(session.execute(update(Chrono).where(Chrono.id == cid).values(is_active=True, run_at=due,
                                                                              next_run_at=due)))
    stack.jobs.put_schedule(schedule_spec(chrono, due))  # the job now, the commit below
    assert stack.hand_over(due.timestamp()) == 1
    worker = stack.spawn("worker", "--burst")
    stack.wait_until(lambda: not stack.queued())  # the worker has taken the job...
    time.sleep(1)  # ...and reaches its claim while the transaction is still open
    stack.db_run(transaction.__aexit__(None, None, None))
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, out.decode()
    (run,) = stack.runs(cid)
    assert run.status == "success", run.error_message
    assert len(http_receiver.wait_for(1)) == 1
    assert stack.chrono(cid).is_active is False  # a one-shot, taken


def test_reconcile_restores_a_job_whose_scheduled_entry_is_gone(stack: Stack) -> None:
    """It puts back a job whose hash survived but whose entry in the scheduled set did not: such a job never fires."""
    from chronoflow.scheduling.jobs import SCHEDULED_JOBS_KEY, schedule_job_id
    from chronoflow.scheduling.reconciler import reconcile

    cid = stack.create_http_chrono("http://127.0.0.1:9/a", cron="0 8 * * *")["id"]
    due = stack.jobs.scheduled_due(cid)
    stack.redis.zrem(SCHEDULED_JOBS_KEY, schedule_job_id(cid))
    assert stack.jobs.read_schedule(cid) is not None and stack.jobs.scheduled_due(cid) is None

    assert stack.db_run(reconcile(stack.db, stack.jobs)).added == [cid]
    assert stack.jobs.scheduled_due(cid) == due


def test_reconcile_keeps_the_job_of_a_chrono_created_while_it_runs(stack: Stack) -> None:
    """It never removes the fresh job of a chrono created while it runs: the chrono's job is seen in
    Redis only if its row is then seen in the database (Redis is read first)."""
    from chronoflow.scheduling.jobs import JobStore
    from chronoflow.scheduling.reconciler import reconcile

    created: list[str] = []

    class CreatedJustBeforeTheScan(JobStore):
        def scheduled_chrono_ids(self) -> set[str]:
            created.append(stack.create_http_chrono("http://127.0.0.1:9/new", cron="0 9 * * *")["id"])
            return super().scheduled_chrono_ids()

    report = stack.db_run(reconcile(stack.db, CreatedJustBeforeTheScan(stack.redis, stack.settings.queue_name)))
    assert report.removed == [] and report.added == []
    assert stack.jobs.count_schedule_jobs(created[0]) == 1


def test_reconcile_keeps_the_job_of_a_chrono_activated_while_it_reads(stack: Stack) -> None:
    """It keeps the job of a chrono whose activating transaction had written the row and the job, but
    not committed, when the rows were read: the orphan check under lock waits for that commit."""
    from chronoflow.scheduling.reconciler import reconcile
    from chronoflow.store.engine import Database

    cid = stack.create_http_chrono("http://127.0.0.1:9/a", cron="0 8 * * *", isActive=False)["id"]
    chrono = stack.chrono(cid)
    due = datetime.now(UTC) + timedelta(days=1)
    transaction = stack.db.session(write=True)
    session = stack.db_run(transaction.__aenter__())
    stack.db_run(session.execute(update(Chrono).where(Chrono.id == cid).values(is_active=True, next_run_at=due)))
    stack.jobs.put_schedule(schedule_spec(chrono, due))  # the job now, the commit below
    reports: list[Any] = []

    async def reconcile_from_another_process() -> None:  # its own engine: it meets the lock in the database
        other = Database(stack.database_url)
        try:
            reports.append(await reconcile(other, stack.jobs))
        finally:
            await other.dispose()

    reconciling = threading.Thread(target=asyncio.run, args=(reconcile_from_another_process(),))
    reconciling.start()
    time.sleep(1)  # it has read the rows, without this chrono, and waits for the lock
    stack.db_run(transaction.__aexit__(None, None, None))
    reconciling.join(60)
    assert reports and reports[0].removed == []
    assert stack.jobs.count_schedule_jobs(cid) == 1


def test_a_schedule_job_holds_only_what_the_scheduler_reads_and_rq_still_reads_it(stack: Stack) -> None:
    """It stores the schedule job as RQ's data, status and origin only, and RQ's and rq-scheduler's
    tooling read it as a scheduled job (rq-scheduler drops jobs it cannot read)."""
    from rq.job import Job
    from rq_scheduler import Scheduler

    from chronoflow.scheduling.jobs import SCHEDULE_FUNC, ScheduleSpec, schedule_job_id

    cid = stack.create_http_chrono("http://127.0.0.1:9/a", cron="*/5 * * * *", timezone="America/Sao_Paulo")["id"]
    key = Job.key_for(schedule_job_id(cid))
    assert sorted(stack.redis.hkeys(key)) == [b"data", b"origin", b"status"]
    job = Job.fetch(schedule_job_id(cid), connection=stack.redis)
    assert job.func_name == SCHEDULE_FUNC and job.get_status() == "scheduled"
    spec = ScheduleSpec.from_job(job)
    assert (spec.chrono_id, spec.expression, spec.timezone) == (cid, "*/5 * * * *", "America/Sao_Paulo")
    assert spec.due.timestamp() == stack.jobs.scheduled_due(cid)
    listed = [j.id for j in Scheduler(connection=stack.redis).get_jobs()]
    assert listed == [schedule_job_id(cid)] and stack.jobs.count_schedule_jobs(cid) == 1


def test_a_schedule_job_written_by_an_earlier_version_still_fires(stack: Stack) -> None:
    """It reads the keyword-argument jobs earlier versions wrote: reconcile keeps them, the scheduler hands them over."""
    from rq.job import Job, JobStatus

    from chronoflow.scheduling.jobs import SCHEDULE_FUNC, SCHEDULED_JOBS_KEY, schedule_job_id
    from chronoflow.scheduling.reconciler import reconcile

    cid = stack.create_http_chrono("http://127.0.0.1:9/a", cron="0 8 * * *")["id"]
    spec = stack.jobs.read_schedule(cid)
    assert spec is not None
    stack.jobs.remove_schedule(cid)
    old = Job.create(SCHEDULE_FUNC, connection=stack.redis, id=schedule_job_id(cid), origin="default",
                     status=JobStatus.SCHEDULED, kwargs={
                         "chrono_id": cid, "due": spec.due.isoformat(), "expression": spec.expression,
                         "cron": spec.cron, "run_at": None, "timezone": spec.timezone,
                         "misfire_grace_seconds": spec.misfire_grace_seconds})
    old.save()
    stack.redis.zadd(SCHEDULED_JOBS_KEY, {old.id: spec.due.timestamp()})

    assert stack.jobs.read_schedule(cid) == spec
    report = stack.db_run(reconcile(stack.db, stack.jobs))
    assert (report.added, report.replaced, report.removed) == ([], [], [])
    assert stack.hand_over(spec.due.timestamp()) == 1
    assert any(job_id.startswith(f"run_{cid}_".encode()) for job_id in stack.queued())
    following = stack.jobs.read_schedule(cid)
    assert following is not None and following.due > spec.due  # moved on, in this version's format
    assert sorted(stack.redis.hkeys(Job.key_for(schedule_job_id(cid)))) == [b"data", b"origin", b"status"]
