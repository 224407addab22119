"""Health, OpenAPI, listing, schedule preview and migrations."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from chronoflow.config import async_database_url
from chronoflow.store.engine import create_engine
from chronoflow.store.migrations import upgrade
from tests.integration.conftest import Stack


def test_health_is_503_until_scheduler_and_worker_run(sqlite_stack: Stack) -> None:
    """It reports each dependency and answers 503 while one is down, 200 once all are up."""
    stack = sqlite_stack
    stack.api.headers.pop("Authorization")  # /health is public
    down = stack.api.get("/health")
    assert down.status_code == 503
    body = down.json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert not body["scheduler"]["ok"] and not body["workers"]["ok"]
    stack.spawn("scheduler")
    stack.spawn("worker")
    up = stack.wait_until(lambda: (r := stack.api.get("/health")).status_code == 200 and r)
    assert up.json()["status"] == "ok" and up.json()["workers"]["count"] == 1


def test_openapi_document_is_served_without_a_token(stack: Stack) -> None:
    """It serves its OpenAPI schema, listing the chrono routes with camelCase fields."""
    stack.api.headers.pop("Authorization")
    schema = stack.api.get("/schema/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert "/chronos" in document["paths"] and "/chronos/{chrono_id}/trigger" in document["paths"]
    assert "targetType" in str(document["components"]["schemas"])
    assert stack.api.get("/schema/swagger").status_code == 200


def test_list_filters_and_paginates(stack: Stack) -> None:
    """It lists chronos with skip/take and filters by targetType and isActive."""
    ids = [stack.create_http_chrono(f"http://127.0.0.1:9/{i}", name=f"c{i}")["id"] for i in range(5)]
    stack.api.post(f"/chronos/{ids[0]}/pause")
    page = stack.api.get("/chronos?skip=1&take=2").json()
    assert page["total"] == 5 and page["skip"] == 1 and page["take"] == 2 and len(page["items"]) == 2
    assert stack.api.get("/chronos?isActive=false").json()["total"] == 1
    assert stack.api.get("/chronos?isActive=true&targetType=HTTP").json()["total"] == 4
    assert stack.api.get("/chronos?targetType=MESSAGE").json()["total"] == 0
    past_the_end = stack.api.get("/chronos?skip=10&take=2").json()
    assert past_the_end["items"] == [] and past_the_end["total"] == 5


def test_list_search_takes_wildcards_literally(stack: Stack) -> None:
    """``q`` keeps the names containing it, any case; ``%`` and ``_`` in it are plain characters."""
    for name in ("Billing 50% off", "billing_day", "Billing-day", "reports"):
        stack.create_http_chrono("http://127.0.0.1:9/x", name=name)

    def names(query: str) -> list[str]:
        filters = {"isActive": "true"} if query == "day" else {}
        page = stack.api.get("/chronos", params={"q": query, **filters})
        assert page.status_code == 200, page.text
        return sorted(item["name"] for item in page.json()["items"])

    assert names("BILLING") == ["Billing 50% off", "Billing-day", "billing_day"]
    assert names("50%") == ["Billing 50% off"]
    assert names("g_d") == ["billing_day"]
    assert names("day") == ["Billing-day", "billing_day"]


def test_schedule_parse_previews_fire_times(stack: Stack) -> None:
    """It reads a schedule and returns its kind, cron, descriptions and next five fire times."""
    response = stack.api.post("/schedules/parse", json={"expression": "0 8 * * 1-5", "timezone": "America/Sao_Paulo"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "recurring" and body["isRecurring"] is True and body["cron"] == "0 8 * * 1-5"
    assert set(body["description"]) == {"en", "pt-BR"}
    assert len(body["nextFireTimes"]) == 5 and all(t.endswith("11:00:00Z") for t in body["nextFireTimes"])
    bad = stack.api.post("/schedules/parse", json={"expression": "every blue moon"})
    assert bad.status_code == 422 and bad.json()["field"] == "expression"


def test_migrations_upgrade_and_downgrade_on_both_backends(database_url: str) -> None:
    """It creates the four tables with Alembic on SQLite and PostgreSQL, and can downgrade to nothing."""
    url = async_database_url(database_url)
    upgrade(url)

    async def tables() -> set[str]:
        engine = create_engine(url)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    assert {"chronos", "chrono_runs", "channels", "functions"} <= asyncio.run(tables())
    upgrade(url)  # idempotent
    from alembic import command

    from chronoflow.store.migrations import alembic_config

    command.downgrade(alembic_config(url), "base")
    assert asyncio.run(tables()) <= {"alembic_version"}


def test_metrics_are_prometheus_text(stack: Stack) -> None:
    """It exposes chrono, run, job and process figures without a token."""
    stack.create_http_chrono("http://127.0.0.1:9/m")
    stack.api.headers.pop("Authorization")
    response = stack.api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'chronoflow_chronos{target_type="HTTP",active="true"} 1' in text
    assert "chronoflow_scheduled_jobs 1" in text and "chronoflow_scheduler_up 0" in text
