"""A unique constraint the database enforced becomes a 409 naming the field.

A service checks a unique value (a contact's phone, a tag's name) before writing it, to answer with
a helpful message; two requests at once both pass that check and the database refuses the second
write. That refusal is the same fact as the check's, so it must be the same ``Conflict``, not a
500. The database's word for it differs: SQLSTATE ``23505`` on PostgreSQL, the extended code
``SQLITE_CONSTRAINT_UNIQUE`` on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

from chronoflow.errors import Conflict

__all__ = ["is_unique_violation", "unique_as_conflict"]

_POSTGRES_UNIQUE_VIOLATION = "23505"
_SQLITE_UNIQUE = ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a write because a unique constraint (or index) already holds the value."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _POSTGRES_UNIQUE_VIOLATION:
        return True
    return getattr(orig, "sqlite_errorname", None) in _SQLITE_UNIQUE


@contextmanager
def unique_as_conflict(field: str, problem: str) -> Iterator[None]:
    """Around a transaction whose only unique value is ``field``: its violation raises ``Conflict``.

    Wrap the whole ``async with db.session()`` block, so a violation found at commit is caught too.

    Raises:
        Conflict: naming ``field`` (``"phone: <problem>"``), when the database refused a duplicate.
    """
    try:
        yield
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise Conflict(f"{field}: {problem}", field=field) from None
