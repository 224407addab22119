"""Lists of contacts, newest first, read from an index instead of sorting.

- ``ix_contacts_newest`` on ``contacts (created_at DESC, id)``: ``GET /contacts`` orders by
  ``created_at`` descending, ties by ``id`` ascending. ``ix_contacts_created (created_at, id)``
  (0006) serves the ascending scans (audience snapshot, number validation) and, read backwards,
  only ``created_at DESC, id DESC``: with the directions mixed every page sorted the rows sharing a
  creation time — all the contacts of one import — in a temporary B-tree.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contacts_newest", "contacts", [sa.text("created_at DESC"), "id"])


def downgrade() -> None:
    op.drop_index("ix_contacts_newest", table_name="contacts")
