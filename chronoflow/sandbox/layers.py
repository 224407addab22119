"""Which isolation layers hold on this host, as a sandbox child reports them, against what is required.

The API and the worker probe their runner once at start (one child forked through every layer)
and log the outcome, so an operator sees at once when a run would be refused; ``/health`` shows
the same report. Nothing here guesses from the host: the layers are those the child found in
effect on itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chronoflow.sandbox.runner import SandboxRunner, SandboxUnavailable

log = logging.getLogger("chronoflow.sandbox")


@dataclass(frozen=True)
class LayerReport:
    """The layers a probe child had, the layers the policy requires, and what follows."""

    layers: tuple[str, ...]
    """Active layers, in the order they were applied."""

    required: tuple[str, ...]
    """``FUNCTION_SANDBOX_REQUIRED_LAYERS``."""

    error: str | None = None
    """Set when no child could be started at all (``unavailable``)."""

    @property
    def missing(self) -> tuple[str, ...]:
        """Required layers that are not active."""
        return tuple(layer for layer in self.required if layer not in self.layers)

    @property
    def ok(self) -> bool:
        """Whether functions can run: a child started and every required layer holds."""
        return self.error is None and not self.missing

    def to_json(self) -> dict[str, Any]:
        """The ``sandbox`` entry of ``/health``."""
        body: dict[str, Any] = {"ok": self.ok, "layers": list(self.layers), "required": list(self.required)}
        if self.missing:
            body["missing"] = list(self.missing)
        if self.error is not None:
            body["error"] = self.error
        return body


def probe(runner: SandboxRunner) -> LayerReport:
    """Fork one child through every layer and report what held (blocks: call it from a thread).

    A sandbox that cannot start is reported as ``unavailable`` and its cause logged with the
    traceback; it is never raised, so a probe cannot stop the process that asks.
    """
    required = tuple(runner.policy.required_layers)
    try:
        layers = runner.ping()
    except SandboxUnavailable:
        if not runner.closed:  # closed while probing: the process is stopping, nothing is wrong
            log.exception("function sandbox: no sandbox process could be started")
        return LayerReport((), required, error="unavailable")
    return LayerReport(tuple(layers), required)


def log_report(report: LayerReport, role: str) -> None:
    """One line at start: the active layers, or an error naming the required layers that are missing."""
    if report.error is not None:
        log.error("%s: function sandbox unavailable: FUNCTION runs and uploads will fail", role)
    elif report.missing:
        log.error("%s: function sandbox lacks required layer(s) %s (active: %s; FUNCTION_SANDBOX_REQUIRED_LAYERS=%s):"
                  " FUNCTION runs, test runs and uploads will be refused until the host grants them",
                  role, ",".join(report.missing), ",".join(report.layers) or "none", ",".join(report.required))
    else:
        log.info("%s: function sandbox layers: %s (required: %s)", role, ",".join(report.layers),
                 ",".join(report.required) or "none")


def probe_and_log(runner: SandboxRunner, role: str) -> LayerReport:
    """:func:`probe`, then :func:`log_report`: what a process does once at start."""
    report = probe(runner)
    log_report(report, role)
    return report
