"""The planned pace of a campaign and when it should finish: delays, window hours, quotas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronoflow.campaigns.progress import Progress, estimated_finish, rate_per_minute
from chronoflow.store.models import Campaign, CampaignStatus

WEEKDAYS = {"start": "08:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"],
            "timezone": "America/Sao_Paulo"}
WEDNESDAY_0339_IN_SAO_PAULO = datetime(2026, 12, 2, 6, 39, tzinfo=UTC)


def _campaign(**fields: Any) -> Campaign:
    values: dict[str, Any] = {"channel_ids": ["a"], "delay_min_seconds": 20.0, "delay_max_seconds": 40.0,
                              "window": None, "daily_quota_per_channel": None, "hourly_quota_per_channel": None,
                              "status": CampaignStatus.SENDING, "finished_at": None}
    return Campaign(**{**values, **fields})


def _pending(count: int) -> Progress:
    return Progress({"pending": count})


def test_the_rate_is_the_mean_delay_of_every_channel_capped_by_the_hourly_quota() -> None:
    """It plans 2 a minute at 20–40 s, 4 with two channels, and no more than the hourly quota allows."""
    assert rate_per_minute(_campaign()) == 2.0
    assert rate_per_minute(_campaign(channel_ids=["a", "b"])) == 4.0
    assert rate_per_minute(_campaign(hourly_quota_per_channel=30)) == 0.5
    assert rate_per_minute(_campaign(daily_quota_per_channel=200)) == 2.0  # a daily quota limits the day, not the pace


def test_a_closed_window_delays_the_finish_to_its_opening() -> None:
    """It finishes two messages a minute after 08:00 local when asked at 03:39, not at 03:40."""
    campaign = _campaign(window=WEEKDAYS, daily_quota_per_channel=200)
    finish = estimated_finish(campaign, _pending(2), WEDNESDAY_0339_IN_SAO_PAULO)
    assert finish == datetime(2026, 12, 2, 11, 1, tzinfo=UTC)


def test_work_beyond_the_window_continues_on_the_next_open_day() -> None:
    """It sends 12 h × 120 an hour on Friday, then resumes on Monday 08:00 local for the rest."""
    campaign = _campaign(window=WEEKDAYS, delay_min_seconds=30.0, delay_max_seconds=30.0)
    friday_0800 = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
    finish = estimated_finish(campaign, _pending(12 * 120 + 60), friday_0800)
    assert finish == datetime(2026, 12, 7, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(("pending", "days"), [(200, 0), (201, 1), (600, 2)], ids=["one-day", "spills", "three-days"])
def test_the_daily_quota_spreads_the_sends_over_days(pending: int, days: int) -> None:
    """It sends at most the daily quota per local day, the rest from the next local midnight."""
    campaign = _campaign(delay_min_seconds=0.0, delay_max_seconds=0.0, daily_quota_per_channel=200)
    start = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    finish = estimated_finish(campaign, _pending(pending), start)
    assert finish is not None
    expected_day = (start + timedelta(days=days)).date()
    assert finish.date() == expected_day
    if days:
        assert finish < datetime.combine(expected_day, datetime.min.time(), UTC) + timedelta(minutes=1)


def test_a_finished_campaign_reports_when_it_finished() -> None:
    done = datetime(2026, 12, 1, tzinfo=UTC)
    campaign = _campaign(status=CampaignStatus.COMPLETED, finished_at=done)
    assert estimated_finish(campaign, _pending(0), WEDNESDAY_0339_IN_SAO_PAULO) == done
