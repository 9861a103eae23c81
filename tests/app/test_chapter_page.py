"""The chapter page built from shared parts: every learner gets the same text and charts, but their own
CSRF token in every form and their own quiz answers; a shared link's slider values still show."""

import re

from app.chapter_page import TOKEN_PLACEHOLDER
from app.content import mount_marker
from app.simulation_runs import get_module, run_simulation
from simulations.params import params_schema
from tests.clients import CourseClient


def _tokens_in_forms(html: str) -> set[str]:
    return set(re.findall(r'name="csrftoken" value="([^"]+)"', html))


def test_each_learner_gets_their_own_token_in_every_form_and_never_the_placeholder(app, course):
    chapter = next(c for c in course.chapters if c.meta.quiz and c.meta.simulations)
    pages = []
    for _ in range(2):
        with CourseClient(app) as browser:
            html = browser.get(chapter.url).text
            pages.append(html)
            assert TOKEN_PLACEHOLDER not in html
            assert _tokens_in_forms(html) == {browser.cookies["csrftoken"]}
            assert html.count('name="csrftoken"') >= len(chapter.meta.quiz)
    assert _tokens_in_forms(pages[0]) != _tokens_in_forms(pages[1])


def test_the_lab_forms_carry_the_token_too(client, course):
    chapter = next(c for c in course.chapters if mount_marker("lab", "data") in c.html)
    html = client.get(chapter.url).text
    assert TOKEN_PLACEHOLDER not in html and _tokens_in_forms(html) == {client.cookies["csrftoken"]}


def test_one_learners_answer_shows_on_their_page_only(app, course):
    chapter = course.chapters[1]
    question = chapter.meta.quiz[0]
    with CourseClient(app) as answering, CourseClient(app) as other:
        answering.answer(chapter, question, question.correct_option.id)
        mine = answering.get(chapter.url).text.split(f'id="quiz-{question.id}"')[1].split('class="quiz-question"')[0]
        theirs = other.get(chapter.url).text.split(f'id="quiz-{question.id}"')[1].split('class="quiz-question"')[0]
    assert "Correct." in mine and "checked" in mine
    assert "Correct." not in theirs and "checked" not in theirs


def test_a_shared_link_shows_its_slider_values_and_the_plain_page_its_defaults(client, course):
    chapter = course.chapters[3]
    name = chapter.meta.simulations[0].name
    field, prop = next((f, p) for f, p in params_schema(get_module(name).Params)["properties"].items()
                       if p.get("type") == "integer" and p.get("x-scale") != "log")
    shared_value = getattr(run_simulation(name, {field: str(prop["maximum"])}).params, field)
    default_value = getattr(run_simulation(name, {}).params, field)
    assert shared_value != default_value
    slider = f'name="{field}" min="{prop["minimum"]}" max="{prop["maximum"]}"'
    shared = client.get(f"/simulations/{name}", params={field: prop["maximum"]}).text
    default = client.get(chapter.url).text
    assert re.search(re.escape(slider) + r'[^>]*value="' + str(shared_value) + '"', shared)
    assert re.search(re.escape(slider) + r'[^>]*value="' + str(default_value) + '"', default)


def test_rendered_quiz_questions_are_kept_within_their_byte_budget_however_many_orders_pass(app, course, monkeypatch):
    """Each (option order, answer) renders its own part; those are many, so they are bounded by bytes."""
    import itertools
    import sys

    from app import chapter_parts

    monkeypatch.setattr(chapter_parts, "QUIZ_PART_BYTES", 200_000)
    monkeypatch.setitem(chapter_parts._PARTS, app.state.templates, {})  # a fresh set of parts for this test
    templates = app.state.templates
    chapter = next(chapter for chapter in course.chapters if any(len(q.options) >= 4 for q in chapter.meta.quiz))
    index, question = next((i, q) for i, q in enumerate(chapter.meta.quiz) if len(q.options) >= 4)
    for order in itertools.permutations(question.options):
        for chosen in [None, *(option.id for option in question.options)]:
            part = chapter_parts.quiz_question(templates, chapter, index, list(order), chosen)
            assert question.options[0].id in part
    parts = chapter_parts._PARTS[templates]["quiz"]
    assert 0 < len(parts) < 24 * 5
    assert sum(sys.getsizeof(page) for _, page in parts._pages.values()) <= 200_000


def test_clients_that_keep_no_cookies_do_not_fill_the_page_caches(app, course, monkeypatch):
    """Each cookieless request is a new learner: keeping its page would push real learners' pages out."""
    from app import chapter_parts

    monkeypatch.setitem(chapter_parts._PARTS, app.state.templates, {})
    chapter = course.chapters[1]
    with CourseClient(app) as returning:
        returning.get(chapter.url)
        returning.get(chapter.url)  # a learner with a row: now kept
        kept = {name: len(cache) for name, cache in chapter_parts._PARTS[app.state.templates].items()
                if name in ("pages", "finished")}
        assert kept.get("finished") == 1
        for _ in range(5):
            with CourseClient(app) as forgetful:
                assert forgetful.get(chapter.url).status_code == 200
        after = {name: len(cache) for name, cache in chapter_parts._PARTS[app.state.templates].items()
                 if name in ("pages", "finished")}
        assert after == kept
        assert TOKEN_PLACEHOLDER not in returning.get(chapter.url).text
