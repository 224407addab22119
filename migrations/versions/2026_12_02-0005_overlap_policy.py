"""Overlap policy: what a recurring chrono does when an occurrence is due while its last run still runs.

- ``chronos.overlap_policy``: ``skip`` (existing chronos and the default), ``allow`` or
  ``buffer-one``. Added with a server default, so existing rows need no rewrite. SQLite drops the
  column with its own ``ALTER TABLE … DROP COLUMN`` (3.35+) rather than a batch rebuild of
  ``chronos``, which would run the ``ON DELETE`` actions of the tables that reference it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chronos", sa.Column("overlap_policy", sa.String(length=16), nullable=False, server_default="skip"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE chronos DROP COLUMN overlap_policy")
    else:
        op.drop_column("chronos", "overlap_policy")
