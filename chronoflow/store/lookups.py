"""Reading one stored object by its id, or saying which one is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from chronoflow.errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def get_or_404(session: AsyncSession, model: type[Row], ident: str, kind: str) -> Row:
    """The ``model`` row with primary key ``ident``, else :class:`NotFound` naming ``kind`` and the id.

    Every service reads its objects this way, so a missing id is always the same 404.
    """
    row = await session.get(model, ident)
    if row is None:
        raise NotFound(kind, ident)
    return row


__all__ = ["get_or_404"]
