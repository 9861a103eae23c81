"""The JSON API: chapter list, quizzes without answers, grading and its errors."""

import json


def test_chapters_are_listed_in_order_with_their_simulations_and_quiz_size(client, course):
    body = client.get("/api/chapters").json()
    assert [c["number"] for c in body] == list(range(10))
    first = body[0]
    assert set(first) >= {"number", "slug", "title", "url", "simulations", "quiz_count"}
    assert first["url"] == f"/chapters/{first['slug']}"
    assert first["simulations"] == ["compliance"]
    assert first["quiz_count"] == len(course.chapters[0].meta.quiz)


def test_quiz_answer_is_not_sent_before_answering(client, course):
    chapter = course.chapters[3]
    response = client.get(f"/api/chapters/{chapter.slug}/quiz")
    assert response.status_code == 200
    text = response.text
    assert '"correct"' not in text and "explanation" not in text
    for question in chapter.meta.quiz:
        for option in question.options:
            assert option.explanation not in text
    questions = response.json()["questions"]
    assert [q["id"] for q in questions] == [q.id for q in chapter.meta.quiz]
    assert set(questions[0]["options"][0]) == {"id", "text"}


def test_a_right_answer_is_graded_correct_and_explained(client, course):
    chapter = course.chapters[0]
    question = chapter.meta.quiz[0]
    response = client.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", json={"option": question.correct_option.id})
    assert response.status_code == 200
    assert response.json() == {
        "correct": True,
        "correct_option": question.correct_option.id,
        "explanation": question.correct_option.explanation,
    }


def test_a_wrong_answer_gets_its_own_explanation_and_re_answering_is_allowed(client, course):
    chapter = course.chapters[7]
    question = chapter.meta.quiz[1]
    wrong = next(o for o in question.options if not o.correct)
    first = client.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", json={"option": wrong.id}).json()
    assert first == {"correct": False, "correct_option": question.correct_option.id, "explanation": wrong.explanation}
    again = client.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", json={"option": question.correct_option.id})
    assert again.json()["correct"] is True


def test_answers_count_towards_this_learners_progress_only(client, app, course):
    from fastapi.testclient import TestClient

    chapter = course.chapters[2]
    question = chapter.meta.quiz[0]
    client.post(f"/api/chapters/{chapter.slug}/quiz/{question.id}", json={"option": question.correct_option.id})
    mine = {c["slug"]: c for c in client.get("/api/me/progress").json()["chapters"]}
    assert mine[chapter.slug]["answered"] == 1 and mine[chapter.slug]["correct"] == 1
    with TestClient(app) as stranger:
        theirs = {c["slug"]: c for c in stranger.get("/api/me/progress").json()["chapters"]}
    assert theirs[chapter.slug]["answered"] == 0


def test_an_unknown_chapter_question_or_option_gets_a_clear_4xx_not_a_500(client, course):
    chapter = course.chapters[1]
    question = chapter.meta.quiz[0]
    base = f"/api/chapters/{chapter.slug}/quiz"

    response = client.get("/api/chapters/no-such-chapter/quiz")
    assert response.status_code == 404 and "no-such-chapter" in response.json()["detail"]

    response = client.post(f"{base}/no-such-question", json={"option": "a"})
    assert response.status_code == 404 and "no-such-question" in response.json()["detail"]

    response = client.post(f"{base}/{question.id}", json={"option": "zz"})
    assert response.status_code == 422
    assert "'zz' is not an option" in response.json()["detail"]

    response = client.post(f"{base}/{question.id}", json={})
    assert response.status_code == 422 and response.json()["detail"].startswith("option:")

    response = client.post(f"{base}/{question.id}", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert json.loads(response.text)["detail"]


def test_an_unknown_api_path_answers_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
