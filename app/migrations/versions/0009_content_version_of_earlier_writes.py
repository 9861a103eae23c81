"""Learners who wrote before migration 0008 (its triggers count writes from then on) get content version 1, so
that version 0 means "nothing written yet": app.chapter_page then builds such a learner's page from everyone's
parts without reading their answers, attempts, runs, sweeps or keys.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("quiz_answers", "exercise_attempts", "runs", "sweeps", "api_keys")  # those 0008's triggers watch


def upgrade() -> None:
    wrote = " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {table}.learner_id = learners.id)" for table in TABLES)
    op.execute(f"UPDATE learners SET content_version = 1 WHERE content_version = 0 AND ({wrote})")


def downgrade() -> None:
    pass  # a version of 1 instead of 0 is still a valid version
