"""Webhooks: replays are recognised, opt-out confirmations are rate-limited, newer statuses fit.

- ``inbound_events.event_key`` (the provider's message or event id) with a unique index per
  provider: a webhook delivered twice is stored and applied once;
- ``opt_out_confirmations``: when each number was last sent an opt-out confirmation;
- ``channels.status`` widened to 32 characters for ``PASSKEY_CONFIRMATION_REQUIRED``. SQLite does
  not enforce ``VARCHAR`` widths, and rebuilding ``channels`` there would run the ``ON DELETE``
  actions of the tables that reference it, so only PostgreSQL alters the column.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = ("STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED")
"""The channel statuses before this revision; a downgrade maps the newer ones to STARTING."""


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if not _is_sqlite():
        op.alter_column("channels", "status", existing_type=sa.String(length=16), type_=sa.String(length=32),
                        existing_nullable=False)
    op.add_column("inbound_events", sa.Column("event_key", sa.String(length=255), nullable=True))
    op.create_index("uq_inbound_events_key", "inbound_events", ["provider", "event_key"], unique=True)
    op.create_table(
        "opt_out_confirmations",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    op.drop_table("opt_out_confirmations")
    op.drop_index("uq_inbound_events_key", table_name="inbound_events")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_column("event_key")
    channels = sa.table("channels", sa.column("status", sa.String()))
    op.execute(channels.update().where(channels.c.status.not_in(_OLD_STATUSES)).values(status="STARTING"))
    if not _is_sqlite():
        op.alter_column("channels", "status", existing_type=sa.String(length=32), type_=sa.String(length=16),
                        existing_nullable=False)
