"""Sending windows, quota periods and send addresses: local wall-clock arithmetic, DST included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronoflow.campaigns.numbers import send_number
from chronoflow.campaigns.window import SendingWindow, next_period, period_start
from chronoflow.errors import InvalidInput

WEEKDAYS = {"start": "08:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"],
            "timezone": "America/Sao_Paulo"}


def test_it_is_open_in_local_hours_on_listed_days() -> None:
    """It reads instants in the window's zone: 10:59 UTC is 07:59 in São Paulo (closed), 11:00 is 08:00 (open)."""
    window = SendingWindow.parse(WEEKDAYS, "UTC")
    assert not window.is_open(datetime(2026, 12, 2, 10, 59, tzinfo=UTC))
    assert window.is_open(datetime(2026, 12, 2, 11, 0, tzinfo=UTC))
    assert not window.is_open(datetime(2026, 12, 2, 23, 0, tzinfo=UTC))  # 20:00 local: the end is excluded
    assert not window.is_open(datetime(2026, 12, 5, 15, 0, tzinfo=UTC))  # a Saturday


def test_the_next_opening_skips_closed_days() -> None:
    """It opens next on Monday 08:00 local after a Friday evening."""
    window = SendingWindow.parse(WEEKDAYS, "UTC")
    friday_night = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    assert window.next_opening(friday_night) == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    open_now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert window.next_opening(open_now) == open_now


def test_the_opening_keeps_local_time_across_a_dst_change() -> None:
    """It opens at 08:00 local on both sides of New York's March change (13:00 UTC, then 12:00 UTC)."""
    window = SendingWindow.parse({**WEEKDAYS, "days": ["sat", "mon"], "timezone": "America/New_York"}, "UTC")
    assert window.next_opening(datetime(2026, 3, 6, 23, 0, tzinfo=UTC)) == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    assert window.next_opening(datetime(2026, 3, 8, 1, 30, tzinfo=UTC)) == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


def test_quota_periods_are_local_days_and_hours() -> None:
    """It starts the day at local midnight (03:00 UTC in São Paulo) and the hour on the hour."""
    at = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)  # 23:30 on Dec 1st in São Paulo
    assert period_start(at, "America/Sao_Paulo", 24) == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert next_period(at, "America/Sao_Paulo", 24) == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert next_period(at, "America/Sao_Paulo", 1) == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert period_start(at, "UTC", 1) == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("window", "field"), [
    ({"start": "08:00", "end": "08:00"}, "window.end"),
    ({"start": "24:00", "end": "08:00"}, "window.start"),
    ({"start": "08:00", "end": "20:00", "days": []}, "window.days"),
    ({"start": "08:00", "end": "20:00", "timezone": "Nowhere/City"}, "window.timezone"),
    ({"start": "08:00", "end": "20:00", "hours": 3}, "window.hours"),
], ids=["empty-range", "bad-clock", "no-days", "bad-zone", "unknown-key"])
def test_it_refuses_a_bad_window_naming_the_field(window: dict[str, object], field: str) -> None:
    """It names the sub-field at fault."""
    with pytest.raises(InvalidInput) as caught:
        SendingWindow.parse(window, "UTC")
    assert caught.value.field == field


def test_a_validated_contact_is_sent_to_its_chat_id() -> None:
    """It sends to the digits of the gateway's chat id (a number registered before the ninth digit)."""
    assert send_number("5511987654321", "551187654321@c.us") == "551187654321"
    assert send_number("5511987654321", None) == "5511987654321"
    assert send_number("5511987654321", "group-id@g.us") == "5511987654321"
