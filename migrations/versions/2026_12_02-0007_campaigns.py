"""Campaigns and their recipients.

- ``campaigns``: the message, audience, pacing, window and quotas, status, and the chrono whose
  runs are the campaign's send steps;
- ``campaign_recipients``: one row per campaign and contact (unique), with the channel, the text,
  the status and the attempts. Two indexes: (campaign, status, next attempt) finds the next
  pending row and counts rows by status; (campaign, channel, sent at) counts a channel's sends in
  a quota period.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel_ids", sa.JSON(), nullable=False),
        sa.Column("message_template", sa.Text(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("delay_min_seconds", sa.Float(), nullable=False),
        sa.Column("delay_max_seconds", sa.Float(), nullable=False),
        sa.Column("window", sa.JSON(), nullable=True),
        sa.Column("daily_quota_per_channel", sa.Integer(), nullable=True),
        sa.Column("hourly_quota_per_channel", sa.Integer(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("max_consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("pacing", sa.JSON(), nullable=False),
        sa.Column("chrono_id", sa.String(length=36), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chrono_id"], ["chronos.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=True),
        sa.Column("channel_id", sa.String(length=36), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("variant", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=36), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_recipients_contact"),
    )
    op.create_index("ix_campaign_recipients_next", "campaign_recipients",
                    ["campaign_id", "status", "next_attempt_at"])
    op.create_index("ix_campaign_recipients_quota", "campaign_recipients", ["campaign_id", "channel_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_campaign_recipients_quota", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_next", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_table("campaigns")
