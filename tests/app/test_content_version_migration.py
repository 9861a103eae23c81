"""A learner who answered before the content-version triggers existed (migration 0008) must not pass for one
who wrote nothing: after the migrations their version is above 0 and their chapter page shows their answer."""

import uuid

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from app.db import MIGRATIONS_DIR, migrate


def _upgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def test_learners_who_wrote_before_the_triggers_get_a_version_above_zero(empty_database_url):
    _upgrade(empty_database_url, "0007")
    wrote, idle = str(uuid.uuid4()), str(uuid.uuid4())
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        for learner in (wrote, idle):
            connection.execute(text("INSERT INTO learners (id, created_at, last_seen_at) VALUES (:id, :now, :now)"),
                               {"id": learner, "now": "2026-11-30 10:00:00"})
        connection.execute(text("INSERT INTO quiz_answers (learner_id, chapter_slug, question_id, option_id, correct, "
                                "answered_at) VALUES (:id, 'intro', 'q1', 'a', true, '2026-11-30 10:00:00')"),
                           {"id": wrote})
    migrate(empty_database_url)
    with engine.connect() as connection:
        versions = dict(connection.execute(text("SELECT id, content_version FROM learners")).all())
    engine.dispose()
    assert versions[wrote] >= 1 and versions[idle] == 0
