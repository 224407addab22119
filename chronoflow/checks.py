"""The name and description rules every resource shares (chronos, functions, channels, contacts, tags).

One place so that a name is refused in the same words whatever it names. Lengths are measured as
sent, before outer spaces are dropped, as the API document states them. Each check raises
:class:`~chronoflow.errors.InvalidInput` naming the field; callers add their own rules on top
(a tag's separators).
"""

from __future__ import annotations

from typing import cast

from chronoflow.errors import InvalidInput

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MAX_NAME_CHARS",
    "REQUIRED_TEXT",
    "checked_description",
    "checked_name",
    "optional_text",
    "required_text",
]

MAX_NAME_CHARS = 200
"""Longest name of a chrono, function, channel or contact (the columns' width)."""
MAX_DESCRIPTION_CHARS = 2000
"""Longest description of a chrono or function."""
REQUIRED_TEXT = "is required and must be a non-empty string"
"""What a missing, blank or non-text required name is told."""


def required_text(value: object, field: str, problem: str = REQUIRED_TEXT) -> str:
    """``value`` without outer spaces; InvalidInput naming ``field`` (with ``problem``) unless non-blank text."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, problem)
    return value.strip()


def optional_text(value: object, field: str, limit: int, problem: str = "must be a string or null") -> str | None:
    """``value`` as sent, or ``None``; InvalidInput naming ``field`` when not text or over ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, problem)
    if len(value) > limit:
        raise InvalidInput(field, f"must be at most {limit} characters")
    return value


def checked_name(value: object, field: str = "name", limit: int = MAX_NAME_CHARS) -> str:
    """A required name without outer spaces, at most ``limit`` characters as sent."""
    name = required_text(value, field)
    if len(cast(str, value)) > limit:  # required_text proved it text; measured as sent
        raise InvalidInput(field, f"must be at most {limit} characters")
    return name


def checked_description(value: object, field: str = "description") -> str | None:
    """An optional description, kept as sent (spaces included)."""
    return optional_text(value, field, MAX_DESCRIPTION_CHARS)
