"""Accounts, cohorts and memberships; a learner (browser) may now be owned by an account.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("session_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("email"),
        sa.CheckConstraint("role IN ('learner', 'instructor', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=True),
        sa.Column("join_code", sa.String(16), nullable=False),
        sa.Column("instructor_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("join_code"),
    )
    op.create_index("ix_cohorts_instructor_id", "cohorts", ["instructor_id"])
    op.create_table(
        "cohort_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cohort_id", sa.Integer, sa.ForeignKey("cohorts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("cohort_id", "user_id"),
    )
    op.create_index("ix_cohort_members_user_id", "cohort_members", ["user_id"])
    # Batch mode: SQLite cannot add a foreign key to an existing table, so Alembic copies the table.
    with op.batch_alter_table("learners") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_learners_account_id_users", "users", ["account_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_learners_account_id", ["account_id"])


def downgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.drop_index("ix_learners_account_id")
        batch.drop_constraint("fk_learners_account_id_users", type_="foreignkey")
        batch.drop_column("account_id")
    op.drop_index("ix_cohort_members_user_id", "cohort_members")
    op.drop_table("cohort_members")
    op.drop_index("ix_cohorts_instructor_id", "cohorts")
    op.drop_table("cohorts")
    op.drop_table("users")
