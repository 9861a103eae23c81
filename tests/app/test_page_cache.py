"""Chapter pages kept per learner: a repeat view is served from the cache, yet every write to what the page
shows (the learner's own answer, a run finished by the scheduler, a write through another worker) shows on
the very next view, on SQLite and PostgreSQL alike; each browser still gets its own CSRF token."""

import gc
import re
import sys
import tracemalloc
import uuid

from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from app.chapter_page import _page_cache
from app.lab_runs import store
from app.main import create_app
from app.models import Learner
from app.page_cache import PageCache, content_versions
from app.settings import Settings
from tests.clients import CourseClient, wrong_option


def _learner_of(app, client) -> str:
    return URLSafeSerializer(app.state.settings.secret_key, salt="learner-cookie").loads(client.cookies["learner"])


def _question_html(html: str, question_id: str) -> str:
    return html.split(f'id="quiz-{question_id}"')[1].split('class="quiz-question"')[0]


def _metrics(after: float) -> dict:
    return {"compliance_before": 0.1, "compliance_after": after, "relevance_before": 0.1, "relevance_after": 0.2,
            "regression": {"format_leak_before": 0.0, "format_leak_after": 0.5}}


def _version(app, learner: str) -> int:
    with app.state.sessions() as session:
        return session.scalar(select(Learner.content_version).where(Learner.id == learner))


def test_a_repeat_view_is_served_from_the_cache_and_an_answer_shows_on_the_next_view(backend_app):
    chapter = backend_app.state.course.chapters[1]
    question = chapter.meta.quiz[0]
    with CourseClient(backend_app) as browser:
        first = browser.get(chapter.url).text
        cached = len(_page_cache(backend_app.state.templates))
        assert browser.get(chapter.url).text == first
        assert len(_page_cache(backend_app.state.templates)) == cached  # the second view added no page

        browser.answer(chapter, question, wrong_option(question).id)
        answered = _question_html(browser.get(chapter.url).text, question.id)
    assert "Not quite." in answered and "checked" in answered
    assert answered != _question_html(first, question.id)


def test_an_answer_written_through_another_worker_shows_on_this_workers_next_view(backend_app, tmp_path):
    """Two apps on one database stand for two workers: each has its own cache, the version is shared."""
    other_worker = create_app(Settings(data_dir=tmp_path, database_url=backend_app.state.settings.resolved_database_url))
    chapter = backend_app.state.course.chapters[2]
    question = chapter.meta.quiz[1]
    with CourseClient(backend_app) as here:
        before = _question_html(here.get(chapter.url).text, question.id)
        with CourseClient(other_worker, cookies=dict(here.cookies)) as there:
            there.answer(chapter, question, question.correct_option.id)
        after = _question_html(here.get(chapter.url).text, question.id)
    assert "Correct." not in before
    assert "Correct." in after and "checked" in after


def test_a_run_finished_by_the_scheduler_shows_on_the_next_view(backend_app, tmp_path):
    chapter = backend_app.state.course.get("evaluation")
    with CourseClient(backend_app) as browser:
        assert "No finished run yet" in browser.get(chapter.url).text
        learner = _learner_of(backend_app, browser)
        run = store.create_run(backend_app.state.sessions, uuid.uuid4().hex, learner, "legal-format", "tiny", {},
                               tmp_path / "run", "local")
        assert "No finished run yet" in browser.get(chapter.url).text  # queued: not finished, and not cached
        store.finish(backend_app.state.sessions, run.id, "succeeded", None, _metrics(0.5))
        cached = browser.get(chapter.url).text
        assert f"/labs/runs/{run.id}/evaluation" in cached

        later = store.create_run(backend_app.state.sessions, uuid.uuid4().hex, learner, "legal-format", "tiny", {},
                                 tmp_path / "later", "local")
        store.finish(backend_app.state.sessions, later.id, "succeeded", None, _metrics(0.9))
        assert f"/labs/runs/{later.id}/evaluation" in browser.get(chapter.url).text


def test_every_write_to_what_the_page_shows_bumps_the_learners_version_and_nothing_else_does(backend_app, tmp_path):
    sessions = backend_app.state.sessions
    chapter = backend_app.state.course.chapters[0]
    with CourseClient(backend_app) as browser:
        browser.get(chapter.url)
        learner = _learner_of(backend_app, browser)
        versions = [_version(backend_app, learner)]
        browser.get(chapter.url)  # a view (and its visit count) is no content change
        versions.append(_version(backend_app, learner))
        browser.answer(chapter, chapter.meta.quiz[0], chapter.meta.quiz[0].correct_option.id)
        versions.append(_version(backend_app, learner))
        exercise = chapter.meta.exercises[0]
        browser.post(f"/api/chapters/{chapter.slug}/exercises/{exercise.id}", json={"answer": "1"})
        versions.append(_version(backend_app, learner))
        run = store.create_run(sessions, uuid.uuid4().hex, learner, "legal-format", "tiny", {}, tmp_path / "r", "local")
        versions.append(_version(backend_app, learner))
        store.finish(sessions, run.id, "failed", "stopped by the test")
        versions.append(_version(backend_app, learner))
    assert versions[0] == versions[1]
    assert versions[1] < versions[2] < versions[3] < versions[4] < versions[5]


def test_a_learner_with_an_active_run_is_never_cached(backend_app, tmp_path):
    with CourseClient(backend_app) as browser:
        browser.get("/chapters/evaluation")
        learner = _learner_of(backend_app, browser)
        assert content_versions(backend_app.state.sessions, [learner]) is not None
        store.create_run(backend_app.state.sessions, uuid.uuid4().hex, learner, "legal-format", "tiny", {},
                         tmp_path / "run", "local")
        assert content_versions(backend_app.state.sessions, [learner]) is None


def test_a_cached_page_carries_each_browsers_own_csrf_token(app, course):
    chapter = course.chapters[0]
    with CourseClient(app) as first:
        first.get(chapter.url)
        # The same learner cookie in a second browser with its own CSRF cookie: the same cached page.
        with CourseClient(app, cookies={"learner": first.cookies["learner"]}) as second:
            html = second.get(chapter.url).text
            token = second.cookies["csrftoken"]
        assert token != first.cookies["csrftoken"]
        assert set(re.findall(r'name="csrftoken" value="([^"]+)"', html)) == {token}
        assert set(re.findall(r'name="csrftoken" value="([^"]+)"', first.get(chapter.url).text)) == {
            first.cookies["csrftoken"]}


def test_the_cache_drops_the_least_recently_used_pages_past_its_size():
    a, b, c = "x" * 1000, "y" * 1000, "z" * 1500
    cache = PageCache(max_bytes=sys.getsizeof(a) + sys.getsizeof(b) + sys.getsizeof(c) - 1)
    cache.put(("a",), a)
    cache.put(("b",), b)
    assert cache.get(("a",)) == a  # now the most recently used
    cache.put(("c",), c)
    assert cache.get(("b",)) is None and cache.get(("a",)) == a and cache.get(("c",)) == c
    cache.put(("a",), "w" * 1200)  # replacing an entry counts its new size only
    assert len(cache) == 2 and cache.get(("a",)) == "w" * 1200


def test_a_new_version_of_a_page_replaces_the_old_one_instead_of_adding_to_it():
    """Every quiz answer bumps the learner's version; the old page must not stay behind as a dead entry."""
    old, new = "o" * 5000, "n" * 6000
    cache = PageCache(max_bytes=10**6)
    cache.put(("chapter", "learner"), old, version=1)
    assert cache.get(("chapter", "learner"), version=1) == old
    assert cache.get(("chapter", "learner"), version=2) is None  # stale: a miss, and the old page is dropped
    assert len(cache) == 0 and cache.bytes == 0
    cache.put(("chapter", "learner"), old, version=2)
    cache.put(("chapter", "learner"), new, version=3)
    assert len(cache) == 1 and cache.bytes == sys.getsizeof(new)
    assert cache.get(("chapter", "learner"), version=2) is None


def test_a_learner_answering_again_and_again_keeps_one_page_per_chapter_in_the_caches(app, course):
    from app.chapter_page import _finished_pages

    chapter = course.chapters[1]
    question = chapter.meta.quiz[0]
    with CourseClient(app) as browser:
        for option in question.options * 2:
            browser.answer(chapter, question, option.id)
            assert browser.get(chapter.url).status_code == 200
        learner = _learner_of(app, browser)
    pages = [key for key in _page_cache(app.state.templates)._pages if key[:2] == (chapter.url, learner)]
    finished = [key for key in _finished_pages(app.state.templates)._pages if key[0][:2] == (chapter.url, learner)]
    assert len(pages) == 1 and len(finished) == 1  # eight answers, eight versions: one page in each cache


def test_pages_with_characters_beyond_latin1_are_counted_by_the_memory_they_occupy():
    """One "−" makes Python store a whole page at 2 bytes a character: the budget is memory, not length."""
    budget = 2_000_000
    cache = PageCache(max_bytes=budget)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100):
            cache.put((n,), f"<p>{n} − </p>" + "x" * 70_000)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0 < len(cache) < 100
    assert held < 1.1 * budget, f"the cache holds {held / 1e6:.1f} MB for a {budget / 1e6:.1f} MB budget"


def test_a_finished_page_is_kept_per_encoding_and_each_decodes_to_the_same_page(app, course):
    """The bytes sent are kept per (page, token, encoding): a browser that asks for another encoding never
    gets the first one's bytes, and every encoding carries the same page with this browser's token."""
    import gzip

    import zstandard

    from app.chapter_page import _finished_pages

    chapter = course.chapters[0]
    with CourseClient(app) as browser:
        browser.get(chapter.url)
        token = browser.cookies["csrftoken"]
        pages = {}
        for encoding in ("zstd", "br", "gzip", "identity", "zstd", "br", "gzip"):
            response = browser.get(chapter.url, headers={"Accept-Encoding": encoding})
            assert response.headers.get("content-encoding", "identity") == encoding
            assert "Accept-Encoding" in response.headers["vary"]
            # The test client decodes br and gzip itself, not zstd.
            pages[encoding] = (zstandard.ZstdDecompressor().decompressobj().decompress(response.content).decode()
                               if encoding == "zstd" else response.text)
    assert pages["zstd"] == pages["br"] == pages["gzip"] == pages["identity"]
    assert set(re.findall(r'name="csrftoken" value="([^"]+)"', pages["zstd"])) == {token}
    assert any(key[1:] == (token, "gzip") and gzip.decompress(body).decode() == pages["gzip"]
               for key, (_, body) in _finished_pages(app.state.templates)._pages.items())


def test_a_copied_learner_cookie_of_an_account_gets_a_new_learners_page_not_the_accounts(people, course):
    """The chapter page reads whether the browser's learner was claimed together with its version: a cookie
    an account claimed starts a new learner here too, and never sees (or caches) the account's answers."""
    from tests.app.test_identity import _copy_cookie

    chapter = course.chapters[0]
    question = chapter.meta.quiz[0]
    owner = people.learner()
    owner.answer(chapter, question, question.correct_option.id)
    assert "Correct." in _question_html(owner.get(chapter.url).text, question.id)
    thief = _copy_cookie(owner, "learner")
    copied = thief.cookies["learner"]
    for _ in range(2):  # the second view is the cached one
        html = thief.get(chapter.url).text
        assert "Correct." not in _question_html(html, question.id)
        assert thief.cookies["learner"] != copied


def test_a_base_built_while_the_server_runs_shows_as_ready_on_a_cached_page(tmp_path, monkeypatch):
    """`course-lab base import-smollm2` runs beside a serving server (README): the lab form's base list (and
    the serving lab's models) must follow the models folder, not the page a learner's last view cached."""
    from app import chapter_parts
    from app.db import migrate

    monkeypatch.setattr(chapter_parts, "BASES_CHECK_S", 0.0)  # the folder is looked at again on every view

    settings = Settings(data_dir=tmp_path, lab_bases="tiny,late-base")
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    chapter = next(c for c in app.state.course.chapters if "<!--lab:training-->" in c.html)
    with CourseClient(app) as browser:
        for _ in range(2):  # the second view comes from the cache
            assert "late-base (not built on this server)" in browser.get(chapter.url).text
        (tmp_path / "models" / "late-base").mkdir(parents=True)
        (tmp_path / "models" / "late-base" / "config.json").write_text("{}")
        html = browser.get(chapter.url).text
    assert '<option value="late-base">late-base</option>' in html and "late-base (not built" not in html


def test_two_first_views_at_once_share_one_cache_of_finished_pages(monkeypatch):
    """Chapter views run on several threads: two that find no cache yet must not each make one (the page the
    losing one kept would be lost, and so would every page put there meanwhile)."""
    import threading
    import time

    from app import chapter_page

    class SlowToMake(PageCache):
        def __init__(self, max_bytes):
            time.sleep(0.05)  # both threads are past the "no cache yet" check before either has made one
            super().__init__(max_bytes)

    monkeypatch.setattr(chapter_page, "PageCache", SlowToMake)
    templates = type("Templates", (), {})()  # a fresh key of chapter_parts._PARTS
    found = []
    threads = [threading.Thread(target=lambda: found.append(chapter_page._finished_pages(templates))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found[0] is found[1] is chapter_page._finished_pages(templates)
