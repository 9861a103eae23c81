"""Quiz options in a per-learner order: stable for one learner, different between learners, ids intact.

The order is the same in the page, the htmx fragment and the JSON API, so a learner sees one order.
"""

import re
from collections import Counter

from app.quiz import options_for


def _question(course, options: int):
    return next(q for c in course.chapters for q in c.meta.quiz if len(q.options) == options)


def test_one_learner_gets_the_same_order_every_time_with_the_same_option_ids(course):
    question = _question(course, 4)
    first = options_for("learner-a", question)
    assert [o.id for o in options_for("learner-a", question)] == [o.id for o in first]
    assert sorted(o.id for o in first) == sorted(o.id for o in question.options)
    assert first[0] is next(o for o in question.options if o.id == first[0].id), "the options themselves, unchanged"


def test_across_many_learners_the_correct_option_lands_in_every_position_about_equally(course):
    question = _question(course, 4)
    positions = Counter(
        [o.id for o in options_for(f"learner-{i}", question)].index(question.correct_option.id) for i in range(800)
    )
    assert set(positions) == {0, 1, 2, 3}
    assert all(150 <= n <= 250 for n in positions.values()), positions


def test_two_questions_of_one_learner_are_shuffled_independently(course):
    chapter = course.chapters[3]
    orders = {
        tuple([o.id for o in options_for(f"learner-{i}", q)].index(q.correct_option.id) for q in chapter.meta.quiz)
        for i in range(40)
    }
    assert len(orders) > 20, "the seed includes the question id, so positions vary within a learner"


def _page_order(html: str, question_id: str) -> list[str]:
    block = html.split(f'id="quiz-{question_id}"')[1].split('class="quiz-question"')[0].split("<details>")[0]
    return re.findall(r'name="option" value="([a-z0-9-]+)"', block)


def test_the_page_the_fragment_and_the_api_show_one_learner_the_same_order(client, course):
    chapter = course.chapters[5]
    question = chapter.meta.quiz[2]
    api = client.get(f"/api/chapters/{chapter.slug}/quiz").json()["questions"][2]
    api_order = [o["id"] for o in api["options"]]
    page_order = _page_order(client.get(chapter.url).text, question.id)
    fragment = client.post(
        f"{chapter.url}/quiz/{question.id}", data={"option": api_order[0]}, headers={"HX-Request": "true"}
    ).text
    assert page_order == api_order
    assert _page_order(fragment, question.id) == api_order
    assert _page_order(client.get(chapter.url).text, question.id) == api_order, "a reload does not reshuffle"


def test_different_learners_see_different_orders_somewhere_in_the_course(app, course):
    from tests.clients import CourseClient

    orders = []
    for _ in range(3):
        with CourseClient(app) as learner:
            orders.append(
                [
                    [o["id"] for o in q["options"]]
                    for c in course.chapters
                    for q in learner.get(f"/api/chapters/{c.slug}/quiz").json()["questions"]
                ]
            )
    assert orders[0] != orders[1] != orders[2]
