"""Which :class:`Target` serves which ``targetType``."""

from __future__ import annotations

from typing import Any

from chronoflow.exceptions import InvalidInput
from chronoflow.models import TargetType
from chronoflow.targets.base import Target
from chronoflow.targets.http import HttpTarget

_TARGETS: dict[str, Target] = {TargetType.HTTP: HttpTarget()}


def register(target_type: TargetType, target: Target) -> None:
    """Make ``target`` serve ``target_type`` (used by the MESSAGE and FUNCTION targets)."""
    _TARGETS[target_type] = target


def target_types() -> list[str]:
    return sorted(_TARGETS)


def refuse_foreign_fields(sent: dict[str, Any], target_type: str) -> None:
    """A field of another target type, sent with a value, is an error rather than silently dropped."""
    own = _TARGETS[target_type].fields
    for target in _TARGETS.values():
        for name in sorted(target.fields - own):
            if sent.get(name) is not None:
                raise InvalidInput(name, f"is not a field of {target_type} chronos")


def get_target(target_type: object) -> Target:
    """The target for ``target_type``, or InvalidInput naming ``targetType``."""
    target = _TARGETS.get(target_type) if isinstance(target_type, str) else None
    if target is None:
        raise InvalidInput("targetType", f"must be one of {', '.join(target_types())}, got {target_type!r}")
    return target


# Targets defined outside this module register themselves on import; importing them here makes
# ``get_target`` see them in every process (API and workers) without a separate setup step.
from chronoflow.targets.message import MessageTarget  # noqa: E402

register(TargetType.MESSAGE, MessageTarget())

from chronoflow.targets.function import FunctionTarget  # noqa: E402

register(TargetType.FUNCTION, FunctionTarget())
