"""Exercise attempts (every checked answer to a chapter's exercises) and capstone ticks, per learner.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exercise_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("learner_id", sa.String(36), sa.ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
        sa.Column("chapter_slug", sa.String(80), nullable=False),
        sa.Column("exercise_id", sa.String(80), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_exercise_attempts_learner_chapter", "exercise_attempts", ["learner_id", "chapter_slug"])
    op.create_table(
        "capstone_ticks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("learner_id", sa.String(36), sa.ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_id", sa.String(60), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("learner_id", "item_id"),
    )


def downgrade() -> None:
    op.drop_table("capstone_ticks")
    op.drop_index("ix_exercise_attempts_learner_chapter", "exercise_attempts")
    op.drop_table("exercise_attempts")
