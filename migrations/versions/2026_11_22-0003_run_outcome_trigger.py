"""A finished run updates its chrono inside the database.

When a run leaves ``running``, a trigger copies its outcome to the chrono (``last_run_at``,
``last_run_status``) and moves ``next_run_at`` to the run's ``advances_to`` if the chrono still
points at this occurrence or an earlier one. The worker records a run with one UPDATE instead of
two, which is most of what recording costs per run. On SQLite a later migration that rebuilds
``chrono_runs`` in batch mode drops this trigger with the old table and must create it again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHRONO_UPDATE = """
    UPDATE chronos SET
        last_run_at = COALESCE(NEW.started_at, NEW.scheduled_for),
        last_run_status = NEW.status,
        next_run_at = CASE
            WHEN NEW.advances_to IS NOT NULL AND next_run_at <= NEW.scheduled_for THEN NEW.advances_to
            ELSE next_run_at
        END
    WHERE id = NEW.chrono_id;
"""


def upgrade() -> None:
    with op.batch_alter_table("chrono_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("advances_to", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION chrono_run_finished() RETURNS trigger AS $$
            BEGIN
                {_CHRONO_UPDATE}
                RETURN NULL;
            END $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER chrono_run_finished AFTER UPDATE OF status ON chrono_runs
            FOR EACH ROW WHEN (OLD.status = 'running' AND NEW.status <> 'running')
            EXECUTE FUNCTION chrono_run_finished()
        """)
    else:
        op.execute(f"""
            CREATE TRIGGER chrono_run_finished AFTER UPDATE OF status ON chrono_runs
            WHEN OLD.status = 'running' AND NEW.status <> 'running'
            BEGIN {_CHRONO_UPDATE} END
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS chrono_run_finished ON chrono_runs")
        op.execute("DROP FUNCTION IF EXISTS chrono_run_finished()")
    else:
        op.execute("DROP TRIGGER IF EXISTS chrono_run_finished")
    with op.batch_alter_table("chrono_runs", schema=None) as batch_op:
        batch_op.drop_column("advances_to")
