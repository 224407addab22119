"""One page of a list and the list's total, read in one statement.

A page and its ``COUNT`` as two statements cost two trips to the database (with aiosqlite, each
statement is several hops to its thread). The count rides along instead as an uncorrelated scalar
subquery, which the database evaluates once per statement; it walks an index, not the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Connection, Row, Select
    from sqlalchemy.orm import Session

    from chronoflow.store.engine import Database


def paged(query: Select[Any], count: Select[Any]) -> Select[Any]:
    """``query`` (already ordered) with ``count``'s total as its last column, from row ``:skip``, at
    most ``:take`` rows: a statement built once and run with :func:`page_with_total`.

    Args:
        count: the list's ``SELECT count(*)`` with the same conditions.
    """
    return query.add_columns(count.scalar_subquery()).offset(bindparam("skip")).limit(bindparam("take"))


def page_with_total(conn: Connection | Session, page: Select[Any], count: Select[Any],
                    parameters: dict[str, Any]) -> tuple[list[Row[Any]], int]:
    """The rows of a :func:`paged` statement and how many rows its list has in all.

    Synchronous, so that it runs whole in :meth:`~chronoflow.store.engine.Database.read` or an
    async session's ``run_sync``.

    Args:
        parameters: the statement's values, ``skip`` and ``take`` among them.

    Returns:
        The rows (each with the total as its last column) and the total. A page past the end has no
        row to carry the total: it is counted then.
    """
    rows = list(conn.execute(page, parameters))
    if rows:
        return rows, int(rows[0][-1])
    return rows, 0 if parameters["skip"] == 0 else int(conn.scalar(count, parameters) or 0)


async def read_page(db: Database, page: Select[Any], count: Select[Any],
                    parameters: dict[str, Any]) -> tuple[list[Sequence[Any]], int]:
    """:func:`page_with_total` as plain rows, read with :meth:`Database.rows`."""
    rows = await db.rows(page, parameters)
    if rows:
        return rows, int(rows[0][-1])
    return rows, 0 if parameters["skip"] == 0 else int((await db.rows(count, parameters))[0][0])


__all__ = ["page_with_total", "paged", "read_page"]
