"""Which :class:`Target` serves which ``targetType``: one instance of each, listed here."""

from __future__ import annotations

from typing import Any

from chronoflow.errors import InvalidInput
from chronoflow.store.models import TargetType
from chronoflow.targets.base import Target
from chronoflow.targets.campaign import CampaignTarget
from chronoflow.targets.function import FunctionTarget
from chronoflow.targets.http import HttpTarget
from chronoflow.targets.message import MessageTarget

_FUNCTIONS = FunctionTarget()

_TARGETS: dict[str, Target] = {
    TargetType.HTTP: HttpTarget(),
    TargetType.MESSAGE: MessageTarget(),
    TargetType.FUNCTION: _FUNCTIONS,
    TargetType.CAMPAIGN: CampaignTarget(_FUNCTIONS.ready_runner),
}
"""Validation uses them in every process; a worker also starts and closes them (:func:`all_targets`)."""


def target_types() -> list[str]:
    return sorted(_TARGETS)


def all_targets() -> list[Target]:
    """Every target, for a worker to start and close."""
    return list(_TARGETS.values())


def refuse_foreign_fields(sent: dict[str, Any], target_type: str) -> None:
    """A field of another target type, sent with a value, is an error rather than silently dropped."""
    own = _TARGETS[target_type].fields
    for target in _TARGETS.values():
        for name in sorted(target.fields - own):
            if sent.get(name) is not None:
                raise InvalidInput(name, f"is not a field of {target_type} chronos")


def _find(target_type: object) -> Target | None:
    return _TARGETS.get(target_type) if isinstance(target_type, str) else None


def target_reads_rows(target_type: object) -> bool:
    """Whether validating a chrono of ``target_type`` needs a session (not for an unknown type, which
    validation refuses before it would use one)."""
    target = _find(target_type)
    return target is not None and target.validation_reads_rows


def get_target(target_type: object) -> Target:
    """The target for ``target_type``, or InvalidInput naming ``targetType``."""
    target = _find(target_type)
    if target is None:
        raise InvalidInput("targetType", f"must be one of {', '.join(target_types())}, got {target_type!r}")
    return target
