"""The phrase table: every family, both languages, each row with its exact cron or instant."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from nlcron_phrases import NOW, PHRASES, ZONE, ZONED_PHRASES

from chronoflow.nlcron import parse


def _case_id(family: str, index: int, phrase: str) -> str:
    return f"{family}-{index:03d}-{re.sub(r'[^a-z0-9]+', '-', phrase.lower()).strip('-')}"


def _expected(value: str) -> tuple[str | None, datetime | None]:
    if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", value):
        return None, datetime.fromisoformat(value).astimezone(UTC)
    return value, None


CASES = [
    pytest.param(phrase, zone, expected, id=_case_id(family, index, phrase))
    for index, (family, phrase, zone, expected) in enumerate(
        [(family, phrase, ZONE, expected) for family, phrase, expected in PHRASES] + ZONED_PHRASES
    )
]


def test_table_is_large_enough() -> None:
    """It holds at least 150 phrasings, covering every family in both languages."""
    assert len(CASES) >= 150
    assert {family for family, _, _ in PHRASES} >= {
        "relative",
        "absolute",
        "interval",
        "daily",
        "weekdays",
        "monthly",
        "window",
        "raw",
    }


@pytest.mark.parametrize(("phrase", "zone", "expected"), CASES)
def test_phrase(phrase: str, zone: str, expected: str) -> None:
    """It reads the phrase as the table says: the cron for recurring, the UTC instant for one-shot."""
    cron, run_at = _expected(expected)
    schedule = parse(phrase, zone, NOW)
    assert (schedule.cron, schedule.run_at) == (cron, run_at)
    assert schedule.timezone == zone
    assert schedule.expression == phrase
