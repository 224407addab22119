"""Two creates of the same contact phone or tag name at once, against a real ``chronoflow api`` process."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.integration.conftest import TOKEN, Stack

ROUNDS = 12
"""Pairs of creates per kind: each round is one race, and every one must end as one 201 and one 409."""


@pytest.fixture
def api_url(stack: Stack) -> str:
    """``chronoflow api`` serving the stack's database (SQLite, then PostgreSQL) on 127.0.0.1."""
    return stack.spawn_api()[1]


def _race(url: str, path: str, body: dict[str, Any]) -> list[httpx.Response]:
    """POST ``body`` twice at once (both threads released together); the two answers."""
    answers: list[httpx.Response] = []
    gate = threading.Barrier(2)

    def post() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
            gate.wait(timeout=30)
            answers.append(client.post(path, json=body))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert len(answers) == 2, "a request did not finish"
    return answers


@pytest.mark.parametrize(("path", "field", "body"), [
    ("/contacts", "phone", lambda i: {"phone": f"+55 11 9{i:04d}-0000", "name": "Ana"}),
    ("/tags", "name", lambda i: {"name": f"vip-{i}"}),
], ids=["contact-phone", "tag-name"])
def test_concurrent_creates_give_one_201_and_one_409_naming_the_field(
        api_url: str, path: str, field: str, body: Any) -> None:
    """It answers one of two simultaneous creates of the same phone (or tag name) 201 and the other 409
    naming the field, never 500, and stores one row."""
    for i in range(ROUNDS):
        answers = sorted(_race(api_url, path, body(i)), key=lambda r: r.status_code)
        assert [r.status_code for r in answers] == [201, 409], [r.text for r in answers]
        assert answers[1].json()["field"] == field, answers[1].text
        assert answers[1].json()["detail"].startswith(f"{field}: "), answers[1].text
    listed = httpx.get(f"{api_url}{path}", params={"take": 100}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert listed.json()["total"] == ROUNDS
