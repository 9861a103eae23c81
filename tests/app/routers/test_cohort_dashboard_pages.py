"""The dashboard's learner tables come a page at a time, sortable by name or activity, with plain links
(no JavaScript); the cohort's figures (learner count, questions) still count every learner; a bad page or
sort is a 422 naming it. The paging and sorting run on SQLite and PostgreSQL."""

import re

import pytest

from app import dashboard
from tests.app.routers.test_cohort_pages import _code, _create


def _names(html: str) -> list[str]:
    """The learner names of the learners × chapters table, in order."""
    matrix = html.split('id="matrix-title"')[1].split("</table>")[0]
    return re.findall(r'<span class="learner-name">([^<]+)</span>', matrix)


@pytest.fixture
def cohort_of_five(backend_people, backend_app, monkeypatch):
    """An instructor's cohort of five learners (Ann … Eve) and pages of two; Cat answered a question, Eve
    opened a chapter last (so she is the most recently active). On SQLite, then PostgreSQL: the sorts and the
    page's LIMIT/OFFSET are SQL."""
    people, course = backend_people, backend_app.state.course
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 2)
    instructor = people.instructor()
    cohort_id = _create(instructor)
    code = _code(instructor.get(f"/cohorts/{cohort_id}").text)
    learners = {}
    for name in ("Dan", "Ann", "Eve", "Cat", "Bob"):
        learners[name] = people.learner(name)
        learners[name].post("/cohorts/join", data={"code": code})
    chapter = course.chapters[0]
    question = chapter.meta.quiz[0]
    learners["Cat"].answer(chapter, question, next(o.id for o in question.options if o.correct))
    for name in ("Dan", "Ann", "Bob", "Cat", "Eve"):  # last seen in this order
        assert learners[name].get(chapter.url).status_code == 200
    return instructor, cohort_id, question


def test_the_tables_show_one_page_in_name_order_with_links_to_the_others(cohort_of_five):
    instructor, cohort_id, question = cohort_of_five
    pages = [instructor.get(f"/cohorts/{cohort_id}?page={n}") for n in (1, 2, 3)]
    assert [_names(p.text) for p in pages] == [["Ann", "Bob"], ["Cat", "Dan"], ["Eve"]]
    first, middle, last = (p.text for p in pages)
    assert "5 learners" in first and "Learners 1–2 of 5, page 1 of 3" in first
    assert f'rel="next" href="/cohorts/{cohort_id}?page=2&amp;sort=name"' in first and 'rel="prev"' not in first
    assert f'rel="prev" href="/cohorts/{cohort_id}?page=1&amp;sort=name"' in middle and 'rel="next"' in middle
    assert "Learners 5–5 of 5, page 3 of 3" in last and 'rel="next"' not in last
    # The exercise and capstone tables show the same page; the question table counts the whole cohort.
    exercises = middle.split('id="exercises-title"')[1].split("</table>")[0]
    assert re.findall(r'<span class="learner-name">([^<]+)</span>', exercises) == ["Cat", "Dan"]
    for html in (first, last):
        assert question.prompt in html  # Cat's answer counts on every page, not only hers


def test_the_tables_sort_by_activity(cohort_of_five):
    instructor, cohort_id, _question = cohort_of_five
    recent = instructor.get(f"/cohorts/{cohort_id}?sort=recent").text
    assert _names(recent) == ["Eve", "Cat"]
    assert f'href="/cohorts/{cohort_id}?sort=recent" aria-current="true"' in recent
    assert _names(instructor.get(f"/cohorts/{cohort_id}?sort=idle&page=1").text) == ["Dan", "Ann"]
    assert _names(instructor.get(f"/cohorts/{cohort_id}?sort=recent&page=3").text) == ["Dan"]


def test_a_page_past_the_end_shows_the_last_and_bad_values_are_refused(cohort_of_five):
    instructor, cohort_id, _question = cohort_of_five
    assert _names(instructor.get(f"/cohorts/{cohort_id}?page=99").text) == ["Eve"]
    for query, message in (("page=0", "page: use a page number from 1."), ("page=two", "page: use a page number"),
                           ("sort=age", "sort: use one of name, recent, idle.")):
        response = instructor.get(f"/cohorts/{cohort_id}?{query}")
        assert response.status_code == 422 and message in response.text


def test_the_json_dashboard_still_lists_every_learner(cohort_of_five):
    instructor, cohort_id, _question = cohort_of_five
    body = instructor.get(f"/api/cohorts/{cohort_id}/dashboard").json()
    assert body["cohort"]["learner_count"] == 5 and len(body["learners"]) == 5


@pytest.mark.parametrize("page", ["%C2%B2", "%D9%A1", "1" * 5000])
def test_a_page_number_python_cannot_read_as_an_int_is_a_422_not_a_500(people, page):
    # "²" and "١" pass str.isdigit(); int() refuses the first and a 5,000-digit string (Python's digit limit)
    instructor = people.instructor()
    response = instructor.get(f"/cohorts/{_create(instructor)}?page={page}")
    assert response.status_code == 422 and "page: use a page number from 1." in response.text


def test_removing_a_learner_comes_back_to_the_page_and_sort_the_form_was_on(cohort_of_five):
    instructor, cohort_id, _question = cohort_of_five
    html = instructor.get(f"/cohorts/{cohort_id}?page=2&sort=idle").text
    form = html.split('id="matrix-title"')[1].split("</form>")[0]
    assert 'name="page" value="2"' in form and 'name="sort" value="idle"' in form
    action = re.search(r'action="(/cohorts/\d+/members/\d+/remove)"', form).group(1)
    removed = instructor.post(action, data={"page": "2", "sort": "idle"}, follow_redirects=False)
    assert removed.headers["location"] == f"/cohorts/{cohort_id}?notice=removed&page=2&sort=idle"
    refused = instructor.post(action, data={"page": "²", "sort": "idle"})
    assert refused.status_code == 422 and "page: use a page number from 1." in refused.text
