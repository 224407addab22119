"""The sandbox runners of an API process: one fork server per distinct policy, closed at exit."""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

from chronoflow.sandbox import SandboxPolicy, SandboxRunner

if TYPE_CHECKING:
    from chronoflow.config import Settings


_runners: dict[tuple[Any, ...], SandboxRunner] = {}
"""Runners by policy: settings describing the same policy share one fork server."""
_by_settings: dict[int, tuple[Settings, SandboxRunner]] = {}
"""Runners by ``Settings`` object (kept alive here, so its id is never reused)."""
_runners_lock = threading.Lock()


def _policy_key(policy: SandboxPolicy) -> tuple[Any, ...]:
    return (policy.http_allowlist, policy.private_hosts, policy.recipient_allowlist, policy.rate_limit_per_second,
            tuple(sorted(policy.env.items())), policy.sandbox_uid, policy.network_namespace, policy.required_layers)


def shared_runner(settings: Settings) -> SandboxRunner:
    """This process's runner for ``settings`` (the API's upload checks and test runs).

    The policy is built from ``settings`` once, on the first call for that ``Settings`` object:
    the app factory makes that call at start (so a policy the settings cannot describe stops
    the start, not a request), and every later call (``FunctionService``, the FUNCTION target's
    validation) is a look-up. One runner (one fork server) per distinct policy, started on first
    use and closed at exit (:func:`close_shared_runners`); the fork server also exits by itself
    when this process dies. Workers own theirs instead (built in ``FunctionTarget.start``).
    """
    with _runners_lock:
        known = _by_settings.get(id(settings))
        if known is not None and known[0] is settings:
            return known[1]
    policy = SandboxPolicy.from_settings(settings)
    with _runners_lock:
        runner = _runners.get(_policy_key(policy))
        if runner is None:
            runner = _runners[_policy_key(policy)] = SandboxRunner(policy)
        _by_settings[id(settings)] = (settings, runner)
        return runner


def close_shared_runners() -> None:
    """Stop the fork servers :func:`shared_runner` started."""
    with _runners_lock:
        runners = list(_runners.values())
        _runners.clear()
        _by_settings.clear()
    for runner in runners:
        runner.close()


atexit.register(close_shared_runners)
