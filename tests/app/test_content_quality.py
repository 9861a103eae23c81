"""The quality bar of issue 13, over the real chapter files: quizzes that cannot be passed by position
or length, enough questions and exercises per chapter, and every exercise solvable through the HTTP
API with its own reference answer while each listed mistake gets its own feedback."""

from collections import Counter

import pytest

from app.exercises.schema import NumberExercise

MAX_SHARE = 0.40


def _questions(course):
    return [q for c in course.chapters for q in c.meta.quiz]


def test_no_option_position_holds_the_correct_answer_in_more_than_40_percent_of_questions(course):
    questions = _questions(course)
    positions = Counter([o.id for o in q.options].index(q.correct_option.id) for q in questions)
    worst, count = positions.most_common(1)[0]
    assert count / len(questions) <= MAX_SHARE, (
        f"position {worst + 1} is correct in {count} of {len(questions)} questions; by position: {dict(sorted(positions.items()))}"
    )


def test_the_correct_option_is_the_longest_in_at_most_40_percent_of_questions(course):
    questions = _questions(course)
    # A tie for longest counts as longest: a learner picking the longest option would pick it.
    longest = [q.id for q in questions if len(q.correct_option.text) >= max(len(o.text) for o in q.options)]
    assert len(longest) / len(questions) <= MAX_SHARE, (
        f"the correct option is the longest in {len(longest)} of {len(questions)} questions"
    )


@pytest.mark.parametrize("number", range(10))
def test_every_chapter_has_at_least_six_questions_and_three_exercises(course, number):
    chapter = course.chapters[number]
    assert len(chapter.meta.quiz) >= 6, f"{chapter.slug}: {len(chapter.meta.quiz)} questions"
    assert len(chapter.meta.exercises) >= 3, f"{chapter.slug}: {len(chapter.meta.exercises)} exercises"


def _reference(exercise):
    return exercise.target if isinstance(exercise, NumberExercise) else exercise.reference_answer


@pytest.mark.parametrize("number", range(10))
def test_every_exercise_accepts_its_reference_answer_through_the_api(client, course, number):
    chapter = course.chapters[number]
    assert chapter.meta.exercises, f"{chapter.slug} has no exercises"
    for exercise in chapter.meta.exercises:
        response = client.post(
            f"/api/chapters/{chapter.slug}/exercises/{exercise.id}", json={"answer": _reference(exercise)}
        )
        assert response.status_code == 200, f"{chapter.slug}/{exercise.id}: {response.text}"
        assert response.json()["correct"] is True, f"{chapter.slug}/{exercise.id}: {response.json()['feedback']}"


@pytest.mark.parametrize("number", range(10))
def test_every_listed_mistake_is_refused_with_its_own_feedback(client, course, number):
    chapter = course.chapters[number]
    for exercise in chapter.meta.exercises:
        for mistake in getattr(exercise, "mistakes", []):
            response = client.post(
                f"/api/chapters/{chapter.slug}/exercises/{exercise.id}", json={"answer": mistake.value}
            )
            body = response.json()
            assert body["correct"] is False, f"{chapter.slug}/{exercise.id}: {mistake.value} was accepted"
            assert body["feedback"].startswith(mistake.feedback), f"{chapter.slug}/{exercise.id}: {body['feedback']}"


def test_the_course_has_exercises_of_every_kind(course):
    kinds = Counter(e.kind for c in course.chapters for e in c.meta.exercises)
    assert set(kinds) == {"number", "jsonl", "text"}, kinds
