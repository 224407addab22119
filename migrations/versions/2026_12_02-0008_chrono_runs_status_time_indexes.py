"""Run indexes for the overview: runs of a period counted by status, and the latest failures.

- ``ix_chrono_runs_scheduled_status`` (scheduled_for, status): "runs since T by status" reads a
  range of this index alone, never the table;
- ``ix_chrono_runs_status_scheduled`` (status, scheduled_for) replaces ``ix_chrono_runs_status``
  (its prefix): "the latest runs in status S" reads the newest entries of one status and stops.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain index statements, no batch mode: SQLite must not rebuild the table (its trigger stays).
    op.create_index("ix_chrono_runs_scheduled_status", "chrono_runs", ["scheduled_for", "status"])
    op.create_index("ix_chrono_runs_status_scheduled", "chrono_runs", ["status", "scheduled_for"])
    op.drop_index("ix_chrono_runs_status", table_name="chrono_runs")


def downgrade() -> None:
    op.create_index("ix_chrono_runs_status", "chrono_runs", ["status"])
    op.drop_index("ix_chrono_runs_status_scheduled", table_name="chrono_runs")
    op.drop_index("ix_chrono_runs_scheduled_status", table_name="chrono_runs")
