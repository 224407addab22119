"""The rules of a contact's fields, shared by the API service and the CSV import.

Every check raises :class:`~chronoflow.errors.InvalidInput` naming the field, so a refused
request names what to fix; the import turns the same messages into per-line reasons.
"""

from __future__ import annotations

from typing import Any, cast

from chronoflow.channels import InvalidPhoneNumber, normalize_number
from chronoflow.checks import MAX_NAME_CHARS, optional_text, required_text
from chronoflow.errors import InvalidInput

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_KEY_CHARS",
    "MAX_ATTRIBUTE_VALUE_CHARS",
    "MAX_CONTACT_NAME_CHARS",
    "MAX_TAG_NAME_CHARS",
    "RESERVED_KEYS",
    "TAG_SEPARATORS",
    "checked_attributes",
    "checked_contact_name",
    "checked_phone",
    "checked_tag_name",
    "checked_tag_names",
    "split_tag_names",
]

MAX_CONTACT_NAME_CHARS = MAX_NAME_CHARS
"""Longest contact name (the column's width, as every name's)."""
MAX_TAG_NAME_CHARS = 100
"""Longest tag name (the column's width)."""
MAX_ATTRIBUTES = 100
"""Most attributes one contact carries."""
MAX_ATTRIBUTE_KEY_CHARS = 64
"""Longest attribute name: it becomes a template placeholder and a CSV column."""
MAX_ATTRIBUTE_VALUE_CHARS = 2000
"""Longest text value of one attribute."""
RESERVED_KEYS = frozenset({"phone", "name", "tags"})
"""Placeholders and CSV columns a contact already has; an attribute may not shadow them."""
TAG_SEPARATORS = frozenset(",;|")
"""Characters that separate tags in CSV cells and query strings, hence never part of a name."""


def checked_phone(value: object, field: str = "phone") -> str:
    """``value`` as normalized digits (Brazilian mobiles with their ninth digit), as MESSAGE chronos read recipients."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a phone number as text")
    try:
        return normalize_number(value)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(field, exc.reason) from None


def checked_contact_name(value: object, field: str = "name") -> str | None:
    """A name without outer spaces; ``None`` when absent or blank."""
    name = optional_text(value, field, MAX_CONTACT_NAME_CHARS, "must be text")
    return (name or "").strip() or None


def checked_tag_name(value: object, field: str = "name") -> str:
    """A tag name without outer spaces: not blank, bounded, free of separators."""
    name = required_text(value, field, "a tag name must be non-empty text")
    if len(cast(str, value)) > MAX_TAG_NAME_CHARS:  # measured as sent; the tag is named, for CSV line reasons
        raise InvalidInput(field, f"tag {name[:20]!r}… is longer than {MAX_TAG_NAME_CHARS} characters")
    if TAG_SEPARATORS & set(name):
        raise InvalidInput(field, f"tag {name!r} contains one of , ; | (they separate tags)")
    return name


def checked_tag_names(value: object, field: str = "tags") -> list[str]:
    """A list of tag names, duplicates dropped, first occurrence's order kept."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(field, "must be a list of tag names")
    return list(dict.fromkeys(checked_tag_name(item, field) for item in value))


def split_tag_names(value: str | None, field: str = "tags") -> tuple[str, ...]:
    """Comma-separated tag names (a query parameter), checked, duplicates dropped."""
    if value is None:
        return ()
    return tuple(dict.fromkeys(checked_tag_name(part, field) for part in value.split(",") if part.strip()))


def checked_attributes(value: object, field: str = "attributes") -> dict[str, Any]:
    """A flat JSON object: placeholder-like keys, scalar values (they become CSV cells)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(field, "must be a JSON object")
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidInput(field, f"at most {MAX_ATTRIBUTES} attributes")
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key.strip() if isinstance(key, str) else ""
        if not name or len(name) > MAX_ATTRIBUTE_KEY_CHARS:
            raise InvalidInput(field, f"attribute names are 1-{MAX_ATTRIBUTE_KEY_CHARS} characters")
        if name.lower() in RESERVED_KEYS:
            raise InvalidInput(field, f"{name!r} is a contact field, not an attribute")
        if not (item is None or isinstance(item, str | int | float | bool)):
            raise InvalidInput(field, f"{name!r}: values are text, numbers, booleans or null")
        if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise InvalidInput(field, f"{name!r}: at most {MAX_ATTRIBUTE_VALUE_CHARS} characters")
        result[name] = item
    return result
