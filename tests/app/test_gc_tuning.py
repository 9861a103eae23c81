"""Garbage collection in a served app: what startup made is frozen out of the collector's view, so a full
collection no longer walks it, and young collections run less often."""

import gc

from fastapi.testclient import TestClient

from app.db import migrate
from app.gc_tuning import GEN0_THRESHOLD
from app.main import create_app
from app.settings import Settings


def test_starting_the_app_freezes_its_startup_objects_and_raises_the_young_threshold(tmp_path):
    settings = Settings(data_dir=tmp_path)
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        # Startup makes ~180,000 objects; without the freeze the count is 0.
        assert gc.get_freeze_count() > 50_000
        assert gc.get_threshold()[0] == GEN0_THRESHOLD
