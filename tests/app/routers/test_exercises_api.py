"""The exercises JSON API: tasks without answers, checked answers with feedback, the solution once
earned, clear 4xx for answers that cannot be checked, CSRF, and progress counting solved exercises."""

import json

import pytest
from fastapi.testclient import TestClient


GOOD_LINE = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello. Not legal advice."}]}'


def _post(client, chapter, exercise_id, answer):
    return client.post(f"/api/chapters/{chapter.slug}/exercises/{exercise_id}", json={"answer": answer})


def test_the_exercise_list_has_each_task_and_no_answer_or_solution(exercise_client, exercise_chapter):
    response = exercise_client.get(f"/api/chapters/{exercise_chapter.slug}/exercises")
    assert response.status_code == 200
    exercises = response.json()["exercises"]
    assert [(e["id"], e["kind"]) for e in exercises] == [("lora-params", "number"), ("fix-line", "jsonl"), ("regression-prompt", "text")]
    assert exercises[0] == {
        "id": "lora-params",
        "kind": "number",
        "prompt": exercise_chapter.exercise("lora-params").prompt,
        "unit": "parameters",
        "solved": False,
    }
    text = response.text
    for exercise in exercise_chapter.meta.exercises:
        assert exercise.solution not in text and exercise.feedback_wrong not in text
    assert "65536" not in text and "Not legal advice" not in text and "joke" not in text
    assert "reference_answer" not in text and "mistakes" not in text


def test_the_chapter_list_gives_each_chapters_number_of_exercises(exercise_client, exercise_chapter):
    chapters = exercise_client.get("/api/chapters").json()
    assert [c["exercise_count"] for c in chapters if c["slug"] == exercise_chapter.slug] == [3]
    assert len(chapters) == 10


def test_a_chapter_without_exercises_lists_none(exercise_client, exercise_app):
    other = exercise_app.state.course.chapters[0]
    assert exercise_client.get(f"/api/chapters/{other.slug}/exercises").json() == {"exercises": []}


def test_a_correct_number_is_accepted_with_the_solution(exercise_client, exercise_chapter):
    response = _post(exercise_client, exercise_chapter, "lora-params", "65,536")
    assert response.status_code == 200
    assert response.json() == {
        "correct": True,
        "feedback": "Correct: 65,536 parameters.",
        "solution": exercise_chapter.exercise("lora-params").solution,
    }


def test_a_listed_mistake_gets_its_feedback_and_the_solution_only_after_the_second_wrong_try(exercise_client, exercise_chapter):
    first = _post(exercise_client, exercise_chapter, "lora-params", 32768).json()
    assert first == {"correct": False, "feedback": "That counts one factor only. Your answer is 50% too low."}
    second = _post(exercise_client, exercise_chapter, "lora-params", 131072).json()
    assert second["correct"] is False and second["feedback"] == "Count both A and B. Your answer is 100% too high."
    assert second["solution"] == exercise_chapter.exercise("lora-params").solution


def test_a_broken_jsonl_line_is_wrong_with_the_rule_and_a_fixed_one_is_right(exercise_client, exercise_chapter):
    wrong = _post(exercise_client, exercise_chapter, "fix-line", GOOD_LINE.replace('"role": "user", ', "")).json()
    assert wrong == {
        "correct": False,
        "feedback": 'Line 1, message 1: each message is an object with "role" and "content". Check the quotes and braces.',
    }
    assert _post(exercise_client, exercise_chapter, "fix-line", GOOD_LINE).json()["correct"] is True


def test_a_text_answer_is_checked_by_its_rules(exercise_client, exercise_chapter):
    wrong = _post(exercise_client, exercise_chapter, "regression-prompt", "Summarise this contract as a joke").json()
    assert wrong["correct"] is False and wrong["feedback"].startswith("Your answer should not contain 'contract'.")
    assert _post(exercise_client, exercise_chapter, "regression-prompt", "Write me a poem about rain").json()["correct"]


@pytest.mark.parametrize(
    ("exercise_id", "body", "detail"),
    [
        ("lora-params", {"answer": "sixty thousand"}, "answer: 'sixty thousand' is not a number"),
        ("lora-params", {"answer": [1, 2]}, "answer: expected a number, got list."),
        ("lora-params", {"answer": None}, "answer: Field required"),
        ("lora-params", {}, "answer: Field required"),
        ("fix-line", {"answer": {"messages": []}}, "answer: expected text (a string), got dict."),
        ("regression-prompt", {"answer": "x" * 4001}, "answer: at most 4000 characters, got 4001."),
        ("regression-prompt", {"answer": "   "}, "answer: write your answer before checking."),
        ("regression-prompt", {"answer": "Tell me a joke\u0000 about owls"}, "answer: contains a NUL character"),
    ],
)
def test_an_answer_that_cannot_be_checked_is_a_422_naming_what_is_wrong_and_stores_nothing(
    exercise_client, exercise_chapter, exercise_id, body, detail
):
    response = exercise_client.post(f"/api/chapters/{exercise_chapter.slug}/exercises/{exercise_id}", json=body)
    assert response.status_code == 422
    assert detail in response.json()["detail"]
    listed = exercise_client.get(f"/api/chapters/{exercise_chapter.slug}/exercises").json()["exercises"]
    assert not any(e["solved"] for e in listed)
    # Two refused answers do not count as wrong tries: the next wrong answer still has no solution.
    exercise_client.post(f"/api/chapters/{exercise_chapter.slug}/exercises/{exercise_id}", json=body)
    assert "solution" not in _post(exercise_client, exercise_chapter, "lora-params", 1).json()


def test_an_unknown_exercise_is_a_404_listing_the_chapters_exercises(exercise_client, exercise_chapter):
    response = _post(exercise_client, exercise_chapter, "nope", 1)
    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"Chapter {exercise_chapter.slug!r} has no exercise 'nope'. Exercises: lora-params, fix-line, regression-prompt."
    )


def test_a_malformed_json_body_is_a_422_not_a_500(exercise_client, exercise_chapter):
    response = exercise_client.post(
        f"/api/chapters/{exercise_chapter.slug}/exercises/lora-params",
        content="{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


def test_checking_an_answer_needs_the_csrf_token(exercise_app, exercise_chapter):
    with TestClient(exercise_app) as bare:
        bare.get("/healthz")
        response = bare.post(f"/api/chapters/{exercise_chapter.slug}/exercises/lora-params", json={"answer": 65536})
    assert response.status_code == 403


def test_progress_counts_each_solved_exercise_once_and_only_for_this_learner(exercise_client, exercise_app, exercise_chapter):
    _post(exercise_client, exercise_chapter, "lora-params", 1)
    _post(exercise_client, exercise_chapter, "lora-params", 65536)
    _post(exercise_client, exercise_chapter, "lora-params", 65536)
    _post(exercise_client, exercise_chapter, "fix-line", GOOD_LINE)
    mine = {c["slug"]: c for c in exercise_client.get("/api/me/progress").json()["chapters"]}
    assert (mine[exercise_chapter.slug]["exercises_solved"], mine[exercise_chapter.slug]["exercise_count"]) == (2, 3)
    listed = exercise_client.get(f"/api/chapters/{exercise_chapter.slug}/exercises").json()["exercises"]
    assert [e["solved"] for e in listed] == [True, True, False]
    stranger = TestClient(exercise_app)  # no `with`: one app lifespan (and lab scheduler) at a time
    theirs = {c["slug"]: c for c in stranger.get("/api/me/progress").json()["chapters"]}
    assert theirs[exercise_chapter.slug]["exercises_solved"] == 0


def test_solved_exercises_follow_the_learner_into_their_account(exercise_client, exercise_chapter):
    _post(exercise_client, exercise_chapter, "regression-prompt", "Tell me a joke about cats")
    exercise_client.register()
    mine = {c["slug"]: c for c in exercise_client.get("/api/me/progress").json()["chapters"]}
    assert mine[exercise_chapter.slug]["exercises_solved"] == 1
    assert json.dumps(mine)  # the report stays plain JSON
