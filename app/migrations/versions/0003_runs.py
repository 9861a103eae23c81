"""Lab runs: the queue and history of fine-tuning runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("learner_id", sa.String(36), sa.ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
        sa.Column("recipe", sa.String(80), nullable=False),
        sa.Column("base", sa.String(200), nullable=False),
        sa.Column("overrides", sa.Text, nullable=False),
        sa.Column("dataset_name", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("run_dir", sa.Text, nullable=False),
        sa.Column("runner", sa.String(16), nullable=False),
        sa.Column("handle", sa.String(120), nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("metrics", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_runs_status_created", "runs", ["status", "created_at"])
    op.create_index("ix_runs_learner_created", "runs", ["learner_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_learner_created", "runs")
    op.drop_index("ix_runs_status_created", "runs")
    op.drop_table("runs")
