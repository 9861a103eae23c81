"""A chapter page assembled from shared parts: a learner who has written nothing gets everyone's parts in their
own quiz order, a learner who has gets their own answers on their very first view of the chapter, and no page
carries another learner's answers, another role's links or another address's "Log in" link."""

import re

from itsdangerous import URLSafeSerializer

from app.quiz import option_orders
from tests.clients import CourseClient


def _learner_of(app, client) -> str:
    return URLSafeSerializer(app.state.settings.secret_key, salt="learner-cookie").loads(client.cookies["learner"])


def _exercise(html: str, exercise_id: str) -> str:
    return html.split(f'id="exercise-{exercise_id}"')[1].split('class="exercise ')[0]


def _question(html: str, question_id: str) -> str:
    return html.split(f'id="quiz-{question_id}"')[1].split('class="quiz-question"')[0]


def test_each_new_learner_sees_the_quiz_in_their_own_option_order(app, course):
    chapter = next(c for c in course.chapters if any(len(q.options) >= 4 for q in c.meta.quiz))
    question = next(q for q in chapter.meta.quiz if len(q.options) >= 4)
    seen = set()
    for _ in range(6):
        with CourseClient(app) as browser:
            html = _question(browser.get(chapter.url).text, question.id)
            expected = [option.id for option in option_orders(_learner_of(app, browser), chapter)[question.id]]
            shown = re.findall(r'name="option" value="([^"]+)"', html)
            assert shown == expected
            seen.add(tuple(shown))
    assert len(seen) > 1  # six learners, 24+ orders: the same order six times would mean a shared quiz part


def test_a_first_view_after_writing_shows_the_learners_own_answers_and_nobody_elses(exercise_app, exercise_chapter):
    question = exercise_chapter.meta.quiz[0]
    attempt = f"{exercise_chapter.url}/exercises/lora-params"
    with CourseClient(exercise_app) as writer, CourseClient(exercise_app) as blank:
        before = blank.get(exercise_chapter.url).text  # the shared parts, rendered before anyone wrote
        # The writer answers before ever opening the chapter: their first view of it is not a blank learner's.
        writer.post(attempt, data={"answer": "32768"}, follow_redirects=False)
        writer.answer(exercise_chapter, question, question.correct_option.id)
        mine = writer.get(exercise_chapter.url).text
        theirs = blank.get(exercise_chapter.url).text
        with CourseClient(exercise_app) as newcomer:
            new = newcomer.get(exercise_chapter.url).text
    assert 'value="32768"' in _exercise(mine, "lora-params") and "Not yet." in _exercise(mine, "lora-params")
    assert "Correct." in _question(mine, question.id) and "checked" in _question(mine, question.id)
    for page in (before, theirs, new):
        assert 'value="32768"' not in _exercise(page, "lora-params") and "Not yet." not in page
        assert "Correct." not in _question(page, question.id) and "checked" not in _question(page, question.id)


def test_the_header_follows_the_role_and_the_address_whoever_rendered_the_page_first(app, course, people):
    chapter = course.chapters[2]
    instructor, learner, anonymous = people.instructor(), people.learner(), people.anonymous()
    pages = {name: client.get(chapter.url).text for name, client in
             (("instructor", instructor), ("learner", learner), ("anonymous", anonymous))}
    assert 'href="/cohorts"' in pages["instructor"]
    assert 'href="/cohorts"' not in pages["learner"] and 'href="/account"' in pages["learner"]
    assert f'href="/login?next={chapter.url}"' in pages["anonymous"] and 'href="/account"' not in pages["anonymous"]
    simulation = chapter.meta.simulations[0].name
    at_slider = anonymous.get(f"/simulations/{simulation}").text  # the full page at a slider's address
    assert f'href="/login?next=/simulations/{simulation}"' in at_slider  # not the chapter's cached page
