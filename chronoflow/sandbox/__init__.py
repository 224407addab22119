"""Sandboxed execution of user functions (``def run(ctx)``) in isolated child processes.

See ``README.md`` in this folder for the isolation layers and the SDK contract.

The names below are imported from their modules on first use, not with the package: the fork
server imports only the modules a child needs (compiler, guards, SDK, isolation), so its heap,
which every child shares and every fork copies the page tables of, holds no runner, broker or
HTTP client (about a third of its resident size when the package imported them all).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chronoflow.sandbox.compiler import CodeError
    from chronoflow.sandbox.policy import FunctionLimits, SandboxPolicy
    from chronoflow.sandbox.results import RunStatus, SandboxResult
    from chronoflow.sandbox.runner import SandboxLayersMissing, SandboxRunner, SandboxUnavailable

__all__ = [
    "CodeError",
    "FunctionLimits",
    "RunStatus",
    "SandboxLayersMissing",
    "SandboxPolicy",
    "SandboxResult",
    "SandboxRunner",
    "SandboxUnavailable",
]

_MODULES = {
    "CodeError": "compiler",
    "FunctionLimits": "policy",
    "RunStatus": "results",
    "SandboxLayersMissing": "runner",
    "SandboxPolicy": "policy",
    "SandboxResult": "results",
    "SandboxRunner": "runner",
    "SandboxUnavailable": "runner",
}


def __getattr__(name: str) -> Any:
    """``chronoflow.sandbox.SandboxRunner`` and the other public names, imported when first asked for."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
