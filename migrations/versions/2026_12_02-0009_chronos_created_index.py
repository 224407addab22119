"""Lists of chronos, newest first, read from an index instead of sorting the whole table.

- ``ix_chronos_created`` on ``chronos (created_at, id)``: ``GET /chronos`` orders by both,
  descending, and reads one page of the index backwards; its ``COUNT`` walks the same index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_chronos_created", "chronos", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_chronos_created", table_name="chronos")
