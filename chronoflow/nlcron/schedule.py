"""The value a parsed schedule string becomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule the core can run: either a cron (recurring) or one UTC instant (one-shot).

    Exactly one of ``cron`` and ``run_at`` is set. Fire times of a cron are read as wall-clock
    times in ``timezone``; ``run_at`` is already absolute.

    Attributes:
        expression: The string as the user gave it, kept so it can be shown back unchanged.
        timezone: The IANA zone the expression was read in.
        cron: Normalized cron for recurring schedules: five fields, or six with the *seconds
            first* (``"*/10 * * * * *"``), which croniter reads with ``second_at_beginning=True``.
        run_at: Aware UTC instant for one-shot schedules.
    """

    expression: str
    timezone: str
    cron: str | None
    run_at: datetime | None

    @property
    def is_recurring(self) -> bool:
        """Whether the schedule fires repeatedly (a cron) rather than once."""
        return self.cron is not None
