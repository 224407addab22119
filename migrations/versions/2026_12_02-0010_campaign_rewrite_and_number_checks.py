"""Campaigns: a rewrite function, number checks before the first send, and receipts matched by message id.

- ``campaigns.rewrite_function_id``: the user function that rewrites each rendered text (optional);
- ``campaigns.validate_numbers``: check a contact's number through the channel before its first send;
- ``campaign_recipients.sent_text``: the text handed to the gateway (the rewritten one), kept so a
  retried row is not rewritten twice and an uncertain send can be looked for in the chat;
- index ``ix_campaign_recipients_message`` on the provider message id: a delivery receipt finds its row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("rewrite_function_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("validate_numbers", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("campaign_recipients") as batch:
        batch.add_column(sa.Column("sent_text", sa.Text(), nullable=True))
    op.create_index("ix_campaign_recipients_message", "campaign_recipients", ["provider_message_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_recipients_message", table_name="campaign_recipients")
    with op.batch_alter_table("campaign_recipients") as batch:
        batch.drop_column("sent_text")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("validate_numbers")
        batch.drop_column("rewrite_function_id")
