"""Audience: tags, contacts and the contact-tag link.

- ``tags``: unique names;
- ``contacts``: one row per normalized phone (unique), name, attributes (JSON), WhatsApp validity
  with the gateway's chat id; opt-outs are not copied here, they follow ``opt_outs`` by number;
- ``contact_tags``: primary key (contact, tag) and the reverse index (tag, contact), so "contacts
  with tag X" and the all/any/exclude audience queries read indexes only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("whatsapp", sa.String(length=16), nullable=False),
        sa.Column("whatsapp_chat_id", sa.String(length=100), nullable=True),
        sa.Column("whatsapp_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_index("ix_contacts_created", "contacts", ["created_at", "id"])
    op.create_table(
        "contact_tags",
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("tag_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "tag_id"),
    )
    op.create_index("ix_contact_tags_tag_contact", "contact_tags", ["tag_id", "contact_id"])


def downgrade() -> None:
    op.drop_index("ix_contact_tags_tag_contact", table_name="contact_tags")
    op.drop_table("contact_tags")
    op.drop_index("ix_contacts_created", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("tags")
