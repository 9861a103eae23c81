"""A per-learner version that every write to what a chapter page shows of the learner bumps (quiz answers,
exercise attempts, runs, sweeps), kept by triggers so no writer can forget it: a worker's cached page
parts for the learner are current while the version is unchanged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Tables whose rows a chapter page shows, each row belonging to one learner through `learner_id` (api_keys:
# chapter 6's serving lab names the learner's key in its snippet).
TABLES = ("quiz_answers", "exercise_attempts", "runs", "sweeps", "api_keys")
EVENTS = {"insert": ("NEW",), "update": ("NEW", "OLD"), "delete": ("OLD",)}


def _sqlite_triggers() -> None:
    for table in TABLES:
        for event, rows in EVENTS.items():
            bumps = " ".join(
                f"UPDATE learners SET content_version = content_version + 1 WHERE id = {row}.learner_id;" for row in rows
            )
            op.execute(f"CREATE TRIGGER bump_{table}_{event} AFTER {event.upper()} ON {table} BEGIN {bumps} END")


def _postgresql_triggers() -> None:
    op.execute("""
        CREATE FUNCTION bump_learner_content_version() RETURNS trigger AS $$
        BEGIN
            IF TG_OP <> 'DELETE' THEN
                UPDATE learners SET content_version = content_version + 1 WHERE id = NEW.learner_id;
            END IF;
            IF TG_OP <> 'INSERT' THEN
                UPDATE learners SET content_version = content_version + 1 WHERE id = OLD.learner_id;
            END IF;
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
    """)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER bump_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION bump_learner_content_version()")


def upgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.add_column(sa.Column("content_version", sa.Integer, nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER bump_{table} ON {table}")
        op.execute("DROP FUNCTION bump_learner_content_version()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER bump_{table}_{event}")
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("content_version")
