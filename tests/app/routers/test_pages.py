"""The HTML pages: home with progress, chapter pages, quiz answering with and without htmx."""

import re

from fastapi.testclient import TestClient


def test_home_lists_ten_chapters_with_their_promises(client, course):
    html = client.get("/").text
    for chapter in course.chapters:
        assert f'href="{chapter.url}"' in html
        assert chapter.meta.promise.replace("'", "&#39;").replace('"', "&#34;") in html or chapter.meta.promise in html
    assert "You have not started yet" in html


def test_a_chapter_page_has_contents_placeholders_quiz_and_navigation(client, course):
    chapter = course.chapters[3]
    html = client.get(chapter.url).text
    assert 'aria-label="On this page"' in html
    for entry in chapter.toc:
        assert f'href="#{entry.anchor}"' in html and f'id="{entry.anchor}"' in html
    for sim in chapter.meta.simulations:
        assert f'data-simulation="{sim.name}"' in html
    assert f'href="{course.chapters[2].url}"' in html and f'href="{course.chapters[4].url}"' in html
    assert html.count('class="quiz-question"') == len(chapter.meta.quiz)


def test_the_chapter_page_reveals_no_answer_before_the_learner_answers(client, course):
    chapter = course.chapters[5]
    html = client.get(chapter.url).text
    for question in chapter.meta.quiz:
        for option in question.options:
            assert option.explanation.replace("'", "&#39;").replace('"', "&#34;") not in html
            assert option.explanation not in html
    assert "is-correct" not in html and "correct answer" not in html


def test_opening_a_chapter_shows_as_progress_on_the_home_page(client, course):
    client.get(course.chapters[4].url)
    html = client.get("/").text
    card = html.split(f'href="{course.chapters[4].url}"')[1].split("</li>")[0]
    assert "Opened" in card
    assert "You have opened <strong>1 of 10</strong>" in html


def test_answering_without_javascript_redirects_back_to_the_question_with_feedback(client, course):
    chapter = course.chapters[0]
    question = chapter.meta.quiz[1]
    wrong = next(o for o in question.options if not o.correct)
    response = client.post(f"{chapter.url}/quiz/{question.id}", data={"option": wrong.id}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{chapter.url}#quiz-{question.id}"
    html = client.get(response.headers["location"].split("#")[0]).text
    block = html.split(f'id="quiz-{question.id}"')[1].split('class="quiz-question"')[0]
    assert "Not quite." in block and "checked" in block


def test_answering_with_htmx_returns_just_the_question_with_its_feedback(client, course):
    chapter = course.chapters[6]
    question = chapter.meta.quiz[0]
    response = client.post(
        f"{chapter.url}/quiz/{question.id}", data={"option": question.correct_option.id}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith(f'<div class="quiz-question" id="quiz-{question.id}"')
    assert "Correct." in response.text


def test_quiz_answers_appear_in_home_progress(client, course):
    chapter = course.chapters[8]
    for question in chapter.meta.quiz[:2]:
        client.post(f"{chapter.url}/quiz/{question.id}", data={"option": question.correct_option.id})
    html = client.get("/").text
    card = html.split(f'href="{chapter.url}"')[1].split("</li>")[0]
    assert f"Quiz 2/{len(chapter.meta.quiz)} correct" in card


def test_submitting_no_option_gets_a_message_not_a_500(client, course):
    chapter = course.chapters[0]
    question = chapter.meta.quiz[0]
    page = client.post(f"{chapter.url}/quiz/{question.id}", data={})
    assert page.status_code == 422 and "<html" in page.text and "choose one of the answers" in page.text
    fragment = client.post(f"{chapter.url}/quiz/{question.id}", data={}, headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and "<html" not in fragment.text and 'role="alert"' in fragment.text


def test_an_unknown_chapter_gets_a_friendly_404_page(client):
    response = client.get("/chapters/not-a-chapter")
    assert response.status_code == 404
    assert "<html" in response.text and "There is no chapter" in response.text


def test_a_forged_learner_cookie_is_ignored_and_replaced(app, course):
    with TestClient(app) as client:
        client.cookies.set("learner", "forged-value")
        response = client.get("/")
        assert response.status_code == 200
        assert re.match(r"^[\w.-]+$", response.cookies["learner"]) and response.cookies["learner"] != "forged-value"


def test_the_learner_cookie_is_httponly_and_samesite_lax(client):
    header = client.get("/").headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
