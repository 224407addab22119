"""One page of a list and the list's total, read in one statement.

A page and its ``COUNT`` as two statements cost two trips to the database (with aiosqlite, each
statement is several hops to its thread). The count rides along instead as an uncorrelated scalar
subquery, which the database evaluates once per statement; it walks an index, not the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row, Select
    from sqlalchemy.orm import Session


def page_with_total(conn: Connection | Session, query: Select[Any], count: Select[Any], skip: int,
                    take: int) -> tuple[list[Row[Any]], int]:
    """Rows ``skip`` to ``skip + take`` of ``query`` (already ordered), and how many rows it has in all.

    Synchronous, so that it runs whole in :meth:`~chronoflow.store.engine.Database.read` or an
    async session's ``run_sync``.

    Args:
        count: the list's ``SELECT count(*)`` with the same conditions.

    Returns:
        The rows (each with the total as its last column) and the total. A page past the end has no
        row to carry the total: it is counted then.
    """
    rows = list(conn.execute(query.add_columns(count.scalar_subquery()).offset(skip).limit(take)))
    if rows:
        return rows, int(rows[0][-1])
    return rows, 0 if skip == 0 else int(conn.scalar(count) or 0)


__all__ = ["page_with_total"]
