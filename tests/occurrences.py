"""Accounting per occurrence for fault tests and ``bench/faults.py``: every due second is run, coalesced or missed.

A per-second chrono owes one occurrence per second of a window. Each one must end as a run row
(executed or ``missed``) or be coalesced into a run (the run's note says how many, due between
which times), and every receiver hit must belong to an executed run, at or after its scheduled time.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

COALESCED_NOTE = re.compile(r"(\d+) missed occurrence\(s\) coalesced into this run \(due from (\S+) to (\S+)\)")
EXECUTED = ("success", "failed", "timeout")


@dataclass
class Tally:
    """What became of a window's occurrences; ``lost``, ``duplicated``, ``early``, ``stuck`` and
    ``miscounted`` must stay 0."""

    executed: int = 0
    coalesced: int = 0
    missed: int = 0
    lost: int = 0
    duplicated: int = 0
    early: int = 0
    stuck: int = 0
    miscounted: int = 0
    """Coalescing notes whose count differs from the due times their range holds."""

    def add(self, other: Tally) -> Tally:
        for name in self.names():
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @staticmethod
    def names() -> list[str]:
        return [f.name for f in fields(Tally)]

    def faults(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("lost", "duplicated", "early", "stuck", "miscounted")}


def _epoch(instant: datetime | None) -> float:
    assert instant is not None
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).timestamp()


def account(runs: list[Any], hit_times: list[float], start: float, end: float) -> Tally:
    """Tally a per-second chrono's scheduled occurrences in ``[start, end]`` (epoch seconds).

    Args:
        runs: its ``ChronoRun`` rows (any order).
        hit_times: arrival times of the receiver's requests for this chrono.
        start: first second owed; end: last second owed.
    """
    tally = Tally()
    scheduled = [r for r in runs if r.trigger == "schedule"]
    per_second = Counter((round(_epoch(r.scheduled_for)), r.attempt) for r in scheduled)
    tally.duplicated += sum(n - 1 for n in per_second.values())
    covered: set[int] = set()
    called: list[Any] = []
    for run in scheduled:
        second = round(_epoch(run.scheduled_for))
        covered.add(second)
        in_window = start <= second <= end
        if run.status == "running":
            tally.stuck += in_window
            called.append(run)  # its call may be out already
        elif run.status == "missed":
            tally.missed += in_window
        elif run.status in EXECUTED:
            called.append(run)
            tally.executed += in_window
            if run.started_at is not None and _epoch(run.started_at) < second:
                tally.early += 1
        for note in COALESCED_NOTE.finditer(run.error_message or ""):
            first = round(datetime.fromisoformat(note.group(2)).timestamp())
            last = round(datetime.fromisoformat(note.group(3)).timestamp())
            gone = [s for s in range(first, last + 1) if s != second]
            tally.miscounted += len(gone) != int(note.group(1))
            covered.update(gone)
            tally.coalesced += sum(1 for s in gone if start <= s <= end)
    owed = range(math.ceil(start), math.floor(end) + 1)
    tally.lost = sum(1 for second in owed if second not in covered)
    # Each hit, in arrival order, belongs to the earliest executed (or still running) run not yet
    # matched: if that run was due after the hit, the call was early; hits beyond the runs are calls
    # without a run.
    due = sorted(_epoch(r.scheduled_for) for r in called)
    for index, hit in enumerate(sorted(hit_times)):
        if index >= len(due):
            tally.duplicated += 1
        elif hit < due[index]:
            tally.early += 1
    return tally
