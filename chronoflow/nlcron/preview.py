"""Previews: the next few fire times of a schedule, or of a string read as one.

It sits above both ``parser`` and ``fire_times`` because it takes a string as readily as a
parsed schedule; the engine in ``fire_times`` only ever sees parsed schedules.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chronoflow.nlcron.fire_times import as_utc, next_cron_after, next_fire_after, zone
from chronoflow.nlcron.parser import parse
from chronoflow.nlcron.schedule import Schedule


def next_fire_times(
    schedule: Schedule | str, n: int, tz: str | None = None, after: datetime | None = None
) -> list[datetime]:
    """Preview the next ``n`` fire instants.

    Args:
        schedule: A parsed schedule, or a string to parse first.
        n: How many instants to return at most.
        tz: Zone to read the schedule in; defaults to the schedule's own (or UTC for strings).
        after: Start of the preview (default: now); also the ``now`` relative strings count from.

    Returns:
        Up to ``n`` aware UTC instants in increasing order (fewer for a one-shot or a cron
        that stops firing).

    Raises:
        ScheduleError: ``schedule`` is a string that cannot be parsed, or ``tz`` is unknown.
    """
    start = as_utc(after) if after is not None else datetime.now(UTC)
    if isinstance(schedule, str):
        schedule = parse(schedule, tz or "UTC", now=start)
    elif tz is not None and tz != schedule.timezone:
        zone(tz)
        schedule = type(schedule)(schedule.expression, tz, schedule.cron, schedule.run_at)
    if schedule.cron is None:
        following = next_fire_after(schedule, start)
        return [following] if following is not None and n > 0 else []
    times: list[datetime] = []
    current = start
    while len(times) < n:
        following = next_cron_after(schedule.cron, schedule.timezone, current)
        if following is None:
            break
        times.append(following)
        current = following
    return times
