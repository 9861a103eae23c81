"""Exercises on the chapter page: forms that work as plain posts and as htmx swaps, feedback and the
worked solution once earned, and an answer that cannot be checked shown beside its exercise."""

import re

from fastapi.testclient import TestClient


def _block(html: str, exercise_id: str) -> str:
    return html.split(f'id="exercise-{exercise_id}"')[1].split('<div class="exercise exercise-')[0]


def test_the_chapter_page_lists_its_exercises_with_forms_and_no_answers(exercise_client, exercise_chapter):
    html = exercise_client.get(exercise_chapter.url).text
    assert '<section class="quiz exercises" id="exercises"' in html and 'href="#exercises"' in html
    for exercise in exercise_chapter.meta.exercises:
        block = _block(html, exercise.id)
        assert f'action="{exercise_chapter.url}/exercises/{exercise.id}"' in block
        assert 'name="csrftoken"' in block and 'name="answer"' in block
        assert exercise_chapter.exercise_html[exercise.id].prompt in block
        assert exercise.solution not in html and exercise.feedback_wrong not in html
    assert 'inputmode="decimal"' in _block(html, "lora-params") and "parameters" in _block(html, "lora-params")
    assert "<textarea" in _block(html, "fix-line")


def test_a_chapter_without_exercises_has_no_exercise_section(exercise_client, exercise_app):
    html = exercise_client.get(exercise_app.state.course.chapters[0].url).text
    assert 'id="exercises"' not in html


def test_answering_without_javascript_redirects_back_with_feedback_and_the_answer_kept(exercise_client, exercise_chapter):
    url = f"{exercise_chapter.url}/exercises/lora-params"
    response = exercise_client.post(url, data={"answer": "32768"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{exercise_chapter.url}#exercise-lora-params"
    block = _block(exercise_client.get(exercise_chapter.url).text, "lora-params")
    assert "Not yet." in block and "That counts one factor only. Your answer is 50% too low." in block
    assert 'value="32768"' in block
    assert "Worked solution" not in block and "after a correct answer or a second wrong try" in block
    exercise_client.post(url, data={"answer": "65536"})
    block = _block(exercise_client.get(exercise_chapter.url).text, "lora-params")
    assert "Correct." in block and "Worked solution" in block and "8 x 8192" in block
    assert "solved" in block


def test_answering_with_htmx_returns_just_the_exercise_with_its_feedback(exercise_client, exercise_chapter):
    response = exercise_client.post(
        f"{exercise_chapter.url}/exercises/regression-prompt",
        data={"answer": "Tell me a joke about rain"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div class="exercise exercise-text" id="exercise-regression-prompt"')
    assert "Correct." in response.text and "Worked solution" in response.text and "data-focus-me" in response.text


def test_the_solution_appears_in_the_fragment_after_the_second_wrong_try(exercise_client, exercise_chapter):
    url = f"{exercise_chapter.url}/exercises/fix-line"
    first = exercise_client.post(url, data={"answer": "{broken"}, headers={"HX-Request": "true"}).text
    assert "Line 1, column 2: not valid JSON" in first and "Worked solution" not in first
    second = exercise_client.post(url, data={"answer": "[]"}, headers={"HX-Request": "true"}).text
    assert "not a list" in second and "Worked solution" in second and "Close the brace" in second


def test_an_answer_that_cannot_be_checked_is_shown_inline_with_a_422_as_typed(exercise_client, exercise_chapter):
    url = f"{exercise_chapter.url}/exercises/lora-params"
    page = exercise_client.post(url, data={"answer": "about 65k"})
    assert page.status_code == 422 and "<html" in page.text
    block = _block(page.text, "lora-params")
    assert 'role="alert"' in block and "&#39;about 65k&#39; is not a number" in block
    assert 'value="about 65k"' in block and 'aria-invalid="true"' in block
    fragment = exercise_client.post(url, data={"answer": ""}, headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert 'role="alert"' in fragment.text and "type a number before checking" in fragment.text
    assert "Not yet." not in _block(exercise_client.get(exercise_chapter.url).text, "lora-params"), "nothing stored"


def test_an_unknown_exercise_gets_a_404_page(exercise_client, exercise_chapter):
    response = exercise_client.post(f"{exercise_chapter.url}/exercises/ghost", data={"answer": "1"})
    assert response.status_code == 404 and "has no exercise" in response.text


def test_a_form_post_without_the_csrf_token_is_refused(exercise_app, exercise_chapter):
    with TestClient(exercise_app) as bare:
        html = bare.get(exercise_chapter.url).text
        token = re.search(r'name="csrftoken" value="([^"]+)"', html).group(1)
        refused = bare.post(f"{exercise_chapter.url}/exercises/lora-params", data={"answer": "1"})
        accepted = bare.post(
            f"{exercise_chapter.url}/exercises/lora-params", data={"answer": "1", "csrftoken": token}, follow_redirects=False
        )
    assert refused.status_code == 403
    assert accepted.status_code == 303


def test_solved_exercises_show_on_the_home_page_and_the_account_page(exercise_client, exercise_chapter):
    exercise_client.post(f"{exercise_chapter.url}/exercises/lora-params", data={"answer": "65536"})
    home = exercise_client.get("/").text
    assert "solved <strong>1 of 3</strong> exercises" in home
    assert "Exercises 1/3 solved" in home.split(f'href="{exercise_chapter.url}"')[1].split("</li>")[0]
    exercise_client.register()
    account = exercise_client.get("/account").text
    row = account.split(f'href="{exercise_chapter.url}"')[1].split("</tr>")[0]
    assert "1 of 3 solved" in row
