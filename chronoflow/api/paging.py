"""``skip`` and ``take`` of every list, bounded where they are read.

Unbounded, a ``skip`` past 2^63 reaches the database driver and fails there as an overflow (a
500), and a large ``take`` makes one answer as big as the table. Both are refused at the edge with
a 400 naming the parameter.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

MAX_SKIP = 2_147_483_647
"""Largest ``skip`` (2^31 - 1): far beyond any list, well inside every database's integer."""

MAX_TAKE = 100
"""Most items one page returns."""

Skip = Annotated[int, Parameter(ge=0, le=MAX_SKIP, default=0, description=f"items to skip (0-{MAX_SKIP})")]
Take = Annotated[int, Parameter(ge=1, le=MAX_TAKE, default=50, description=f"items to return (1-{MAX_TAKE})")]

__all__ = ["MAX_SKIP", "MAX_TAKE", "Skip", "Take"]
