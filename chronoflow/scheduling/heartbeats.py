"""Liveness in Redis: the keys workers and schedulers refresh, and how others read them.

Workers and the scheduler write these keys; ``/health``, ``/metrics`` and the scheduler's reaper
of lost runs only read them. Keeping the names here lets the readers know who is alive without
importing the processes themselves.
"""

from __future__ import annotations

from redis import Redis

__all__ = [
    "HEARTBEAT_PREFIX",
    "LEADER_KEY",
    "RECONCILED_KEY",
    "SCHEDULER_HEARTBEAT_KEY",
    "jobs_reconciled",
    "live_worker_count",
    "scheduler_alive",
    "worker_alive",
]

HEARTBEAT_PREFIX = "chronoflow:worker:"
"""``<prefix><worker id>`` exists while that worker is alive (it expires when the worker stops beating)."""

LEADER_KEY = "chronoflow:scheduler:leader"
"""Holds the name of the active scheduler while it keeps its lease."""

SCHEDULER_HEARTBEAT_KEY = "chronoflow:scheduler:heartbeat"
"""Exists while an active scheduler is handing jobs over."""

RECONCILED_KEY = "chronoflow:reconciled"
"""``ok`` once the active scheduler has rebuilt Redis's jobs from the database; ``reconciling``
while it does. Redis restarting empty or a ``FLUSHALL`` deletes it, which is how its data loss is
noticed: the scheduler reconciles again, and ``/health`` reports it meanwhile."""


def worker_alive(redis: Redis, worker_id: str) -> bool:
    """Whether worker ``worker_id`` still refreshes its heartbeat key."""
    return bool(redis.exists(HEARTBEAT_PREFIX + worker_id))


def live_worker_count(redis: Redis) -> int:
    """Workers whose heartbeat key has not expired."""
    return sum(1 for _ in redis.scan_iter(match=HEARTBEAT_PREFIX + "*", count=500))


def scheduler_alive(redis: Redis) -> bool:
    """Whether an active scheduler has beaten recently."""
    return bool(redis.exists(SCHEDULER_HEARTBEAT_KEY))


def jobs_reconciled(redis: Redis) -> bool:
    """Whether Redis still holds the jobs the last reconciliation put there (the marker survived)."""
    return redis.get(RECONCILED_KEY) == b"ok"
