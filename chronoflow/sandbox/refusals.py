"""The one way a broker refuses an SDK call: an error answer of a named SDK type, never a worker exception."""

from __future__ import annotations

__all__ = ["MaybeDelivered", "Refused", "type_error"]


class Refused(Exception):
    """A request answered with an error of the given SDK type (``TypeError``, ``HttpError``…)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


def type_error(message: str) -> Refused:
    """A refusal for an argument of the wrong type."""
    return Refused("TypeError", message)


class MaybeDelivered(Exception):
    """Raised by a ``send_message`` callback: the gateway took the request but gave no clear answer.

    The message may have gone out, so the broker tells the user's code so (a ``MessageError`` that
    says it may have been delivered) and nothing sends it again.
    """
