"""The one way a broker refuses an SDK call: an error answer of a named SDK type, never a worker exception."""

from __future__ import annotations

__all__ = ["Refused", "type_error"]


class Refused(Exception):
    """A request answered with an error of the given SDK type (``TypeError``, ``HttpError``…)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


def type_error(message: str) -> Refused:
    """A refusal for an argument of the wrong type."""
    return Refused("TypeError", message)
