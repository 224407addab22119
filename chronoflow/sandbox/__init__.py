"""Sandboxed execution of user functions (``def run(ctx)``) in isolated child processes.

See ``README.md`` in this folder for the isolation layers and the SDK contract.
"""

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
