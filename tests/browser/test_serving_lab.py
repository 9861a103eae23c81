"""Chapter 6's serving lab in real Chromium against a real `course serve`, whose model server it starts on first use,
with two really trained adapters: send the form, wait through the 503 (htmx retries by itself), read the answers
side by side and the batch view, all without leaving the chapter."""

import os
import shutil
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeSerializer

from app.db import create_db_engine, make_session_factory
from app.settings import DEVELOPMENT_SECRET, Settings
from tests.app.serving.conftest import BASE, give_runs, serving_data_dir, trained_runs  # noqa: F401  (fixtures)
from tests.browser.conftest import _serve, watch_for_errors

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def serving_site(serving_data_dir, tmp_path_factory):  # noqa: F811
    """(URL, data dir) of a course server whose only base is the built `micro`."""
    data = tmp_path_factory.mktemp("serving-browser-data")
    shutil.copytree(serving_data_dir / "models", data / "models")
    env = {**os.environ, "COURSE_DATA_DIR": str(data), "COURSE_LAB_BASES": BASE, "HF_HUB_OFFLINE": "1"}
    for url in _serve(env):
        yield url, data


def _as_app(data_dir):
    """What give_runs needs of an app, for the server's own database."""
    settings = Settings(data_dir=data_dir)
    return SimpleNamespace(state=SimpleNamespace(
        settings=settings, sessions=make_session_factory(create_db_engine(settings.resolved_database_url))))


def test_a_learner_compares_their_adapters_with_the_base_from_chapter_6(browser, serving_site, trained_runs,  # noqa: F811
                                                                        artifacts):
    url, data_dir = serving_site
    context = browser.new_context(base_url=url)
    page = context.new_page()
    errors = watch_for_errors(page)
    page.goto("/chapters/deployment")
    assert page.locator("#serving-needs-adapters").is_visible()

    cookie = next(c["value"] for c in context.cookies() if c["name"] == "learner")
    owner = URLSafeSerializer(DEVELOPMENT_SECRET, salt="learner-cookie").loads(cookie)
    run_ids = give_runs(_as_app(data_dir), owner, trained_runs)
    page.reload()
    form = page.locator("#serving-lab-form")
    assert form.locator("input[name=models]:checked").count() == 2

    form.get_by_role("button", name="Send to all of them at once").click()
    # The first answer is a 503 (the model server starts, then loads the base); htmx sends the form again by itself.
    page.wait_for_function("() => document.querySelectorAll('#serving-answers .serving-answer').length === 3",
                           timeout=400_000)
    assert page.url.endswith("/chapters/deployment")  # a fragment swapped in, not a new page
    models = page.locator("#serving-answers .serving-answer").evaluate_all("els => els.map(e => e.dataset.model)")
    assert models[0] == BASE and sorted(models[1:]) == sorted(f"ft:{BASE}:legal-format:{r[:8]}" for r in run_ids)
    assert page.locator("#serving-answers .serving-stats").first.inner_text().count("tokens/s") == 1
    assert page.locator("#serving-batches tbody tr.serving-batch-yours").count() >= 2
    assert page.locator("#serving-lab-wait").count() == 0
    page.locator("#lab-serving-widget").screenshot(path=str(artifacts / "serving-lab.png"))
    assert not errors, errors
    context.close()
