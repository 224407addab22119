"""Targets: what a run does. One module per target type, all behind :class:`Target`."""

from chronoflow.targets.base import ExecutionContext, Target, TargetResult
from chronoflow.targets.registry import (
    all_targets,
    get_target,
    refuse_foreign_fields,
    target_reads_rows,
    target_types,
)

__all__ = [
    "ExecutionContext", "Target", "TargetResult", "all_targets", "get_target", "refuse_foreign_fields",
    "target_reads_rows", "target_types",
]
