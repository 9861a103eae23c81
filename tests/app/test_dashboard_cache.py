"""The dashboard's figures are shared for a moment: refreshes within the TTL reuse one build (and refreshes that
arrive together wait for one), a learner's answer shows once the TTL has passed, a member who joins or leaves
shows at once, and the cache keeps a bounded number of cohort pages."""

import threading
import time

from app.dashboard_cache import DashboardCache
from tests.app.routers.test_cohort_pages import _code, _create


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_reused_within_the_ttl_and_built_again_after_it():
    clock, builds = _Clock(), []
    cache = DashboardCache(ttl_s=1.5, clock=clock)

    def build():
        builds.append(clock.now)
        return len(builds)

    assert cache.get((1, 1, "name"), build) == 1
    clock.now += 1.4
    assert cache.get((1, 1, "name"), build) == 1
    assert cache.get((2, 1, "name"), build) == 2  # another cohort has figures of its own
    clock.now += 0.1  # 1.5 s after the first build began
    assert cache.get((1, 1, "name"), build) == 3
    cache.forget(1)
    assert cache.get((1, 1, "name"), build) == 4 and cache.get((2, 1, "name"), build) == 2


def test_refreshes_arriving_together_share_one_build():
    cache, builds, started = DashboardCache(ttl_s=60), [], threading.Event()

    def build():
        builds.append(1)
        started.set()
        time.sleep(0.2)  # the aggregates take a while; the other refreshes arrive meanwhile
        return "figures"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(("c",), build))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["figures"] * 8 and len(builds) == 1


def test_the_cache_keeps_at_most_its_number_of_cohort_pages():
    cache = DashboardCache(ttl_s=60, max_entries=3)
    for cohort in range(10):
        cache.get((cohort, 1, "name"), lambda: "figures")
    assert len(cache) == 3


def _score(html: str) -> str | None:
    matrix = html.split('id="matrix-title"')[1].split("</table>")[0]
    found = [part.split("</span>")[0] for part in matrix.split('<span class="score">')[1:]]
    return found[0] if found else None


def test_the_dashboard_shows_an_answer_once_its_ttl_has_passed_and_a_new_member_at_once(app, people, course, monkeypatch):
    monkeypatch.setattr(app.state.dashboards, "ttl_s", 3.0)
    instructor = people.instructor()
    cohort_id = _create(instructor)
    learner = people.learner("Ada")
    learner.post("/cohorts/join", data={"code": _code(instructor.get(f"/cohorts/{cohort_id}").text)})
    began = time.monotonic()
    first = instructor.get(f"/cohorts/{cohort_id}").text
    built = time.monotonic()  # the build began between `began` and now
    assert "Ada" in first and _score(first) is None  # the member shows although the page was cached before
    chapter = course.chapters[0]
    question = chapter.meta.quiz[0]
    learner.answer(chapter, question, question.correct_option.id)
    if time.monotonic() - began < 2.5:  # the build is still fresh: the same figures come back
        assert _score(instructor.get(f"/cohorts/{cohort_id}").text) is None
    time.sleep(max(0.0, 3.0 - (time.monotonic() - built)))
    assert _score(instructor.get(f"/cohorts/{cohort_id}").text) == f"1/{len(chapter.meta.quiz)}"
