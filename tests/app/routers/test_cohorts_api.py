"""Cohorts over JSON on SQLite and PostgreSQL: create, join, rotate, remove, the dashboard's matrix and
per-question statistics, and the CSV export."""

import csv
import io
import re

import pytest

from tests.clients import wrong_option


@pytest.fixture
def cohort(backend_people):
    """An instructor's new cohort: (instructor client, cohort json)."""
    instructor = backend_people.instructor("Grace")
    created = instructor.post("/api/cohorts", json={"name": "Autumn cohort", "starts_on": "2026-09-01"})
    assert created.status_code == 201
    return instructor, created.json()


def test_creating_a_cohort_gives_a_readable_join_code(cohort):
    _, body = cohort
    assert body["name"] == "Autumn cohort" and body["starts_on"] == "2026-09-01"
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", body["join_code"])


@pytest.mark.parametrize(
    ("body", "start"),
    [({"name": "  "}, "name: give the cohort a name"), ({"name": "X", "starts_on": "soon"}, "starts_on: ")],
)
def test_a_refused_cohort_names_the_field(cohort, body, start):
    instructor, _ = cohort
    response = instructor.post("/api/cohorts", json=body)
    assert response.status_code == 422 and response.json()["detail"].startswith(start)


def test_a_learner_joins_with_the_code_in_any_case_and_joining_twice_is_harmless(cohort, backend_people):
    _, body = cohort
    learner = backend_people.learner()
    code = body["join_code"].replace("-", "").lower()
    assert learner.post("/api/cohorts/join", json={"code": code}).json() == {"id": body["id"], "name": body["name"]}
    assert learner.post("/api/cohorts/join", json={"code": body["join_code"]}).status_code == 200
    assert learner.get("/api/auth/me").json()["cohorts"] == [{"id": body["id"], "name": body["name"]}]


def test_a_wrong_or_malformed_code_is_explained(backend_people):
    learner = backend_people.learner()
    wrong = learner.post("/api/cohorts/join", json={"code": "ZZZZ-ZZZZ"})
    assert wrong.status_code == 404 and wrong.json()["detail"].startswith("code: no cohort has this join code")
    short = learner.post("/api/cohorts/join", json={"code": "abc"})
    assert short.status_code == 422 and short.json()["detail"].startswith("code: a join code has 8")


def test_joining_needs_an_account(cohort, backend_client):
    _, body = cohort
    response = backend_client.post("/api/cohorts/join", json={"code": body["join_code"]})
    assert response.status_code == 401


def test_rotating_the_code_retires_the_old_one_and_keeps_the_members(cohort, backend_people):
    instructor, body = cohort
    member = backend_people.learner()
    member.post("/api/cohorts/join", json={"code": body["join_code"]})
    rotated = instructor.post(f"/api/cohorts/{body['id']}/code").json()
    assert rotated["join_code"] != body["join_code"]
    late = backend_people.learner()
    assert late.post("/api/cohorts/join", json={"code": body["join_code"]}).status_code == 404
    assert late.post("/api/cohorts/join", json={"code": rotated["join_code"]}).status_code == 200
    learners = instructor.get(f"/api/cohorts/{body['id']}/dashboard").json()["learners"]
    assert {row["id"] for row in learners} == {member.user["id"], late.user["id"]}


def test_removing_a_learner_takes_them_off_the_dashboard_only(cohort, backend_people, course):
    instructor, body = cohort
    learner = backend_people.learner()
    learner.post("/api/cohorts/join", json={"code": body["join_code"]})
    learner.get(course.chapters[0].url)
    assert instructor.delete(f"/api/cohorts/{body['id']}/members/{learner.user['id']}").status_code == 204
    assert instructor.get(f"/api/cohorts/{body['id']}/dashboard").json()["learners"] == []
    assert learner.get("/api/me/progress").json()["chapters"][0]["opened"] is True
    again = instructor.delete(f"/api/cohorts/{body['id']}/members/{learner.user['id']}")
    assert again.status_code == 404 and "no learner" in again.json()["detail"]


def test_an_instructor_cannot_join_their_own_cohort_as_a_learner(cohort):
    instructor, body = cohort
    response = instructor.post("/api/cohorts/join", json={"code": body["join_code"]})
    assert response.status_code == 409


def test_the_dashboard_shows_each_learner_per_chapter_and_the_cohorts_misconception(cohort, backend_people, course):
    instructor, body = cohort
    chapter = course.chapters[1]
    q1, q2 = chapter.meta.quiz[0], chapter.meta.quiz[1]
    ada, bob, cy = backend_people.learner("Ada"), backend_people.learner("Bob"), backend_people.learner("Cy")
    for learner in (ada, bob, cy):
        learner.post("/api/cohorts/join", json={"code": body["join_code"]})
    # Ada: opens the chapter, gets q1 wrong then right, q2 right. Bob and Cy: the same wrong option on q1.
    ada.get(chapter.url)
    ada.answer(chapter, q1, wrong_option(q1, 1).id)
    ada.answer(chapter, q1, q1.correct_option.id)
    ada.answer(chapter, q2, q2.correct_option.id)
    bob.answer(chapter, q1, wrong_option(q1, 0).id)
    cy.answer(chapter, q1, wrong_option(q1, 0).id)

    dashboard = instructor.get(f"/api/cohorts/{body['id']}/dashboard").json()
    assert dashboard["cohort"] == {**dashboard["cohort"], "id": body["id"], "learner_count": 3}
    assert [c["slug"] for c in dashboard["chapters"]] == [c.slug for c in course.chapters]
    rows = {row["display_name"]: row for row in dashboard["learners"]}
    assert list(rows) == ["Ada", "Bob", "Cy"]
    assert rows["Ada"]["chapters"][chapter.slug] == {"opened": True, "answered": 2, "correct": 2}
    assert rows["Bob"]["chapters"][chapter.slug] == {"opened": False, "answered": 1, "correct": 0}
    assert rows["Ada"]["chapters"][course.chapters[0].slug] == {"opened": False, "answered": 0, "correct": 0}
    assert 0 <= rows["Ada"]["seconds_since_active"] < 60 and rows["Ada"]["last_active_at"]

    stats = {(q["chapter"], q["question_id"]): q for q in dashboard["questions"]}
    first = stats[(chapter.slug, q1.id)]
    assert (first["answered"], first["correct"], first["first_try_correct"]) == (3, 1, 0)
    assert first["top_wrong_option"] == {"id": wrong_option(q1, 0).id, "text": wrong_option(q1, 0).text, "learners": 2}
    assert stats[(chapter.slug, q2.id)]["top_wrong_option"] is None
    assert stats[(chapter.slug, q2.id)]["correct_rate"] == 1.0


def test_the_csv_export_has_the_matrix_and_the_questions_and_defuses_formulas(cohort, backend_people, course):
    instructor, body = cohort
    learner = backend_people.learner("=HYPERLINK(\"http://evil\")")
    learner.post("/api/cohorts/join", json={"code": body["join_code"]})
    chapter = course.chapters[0]
    learner.get(chapter.url)
    learner.answer(chapter, chapter.meta.quiz[0], chapter.meta.quiz[0].correct_option.id)

    response = instructor.get(f"/api/cohorts/{body['id']}/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert rows[0]["learner"].startswith("'=")
    assert (rows[0]["ch0_opened"], rows[0]["ch0_quiz_correct"]) == ("yes", "1")
    assert rows[0]["ch0_quiz_total"] == str(len(chapter.meta.quiz))

    questions = list(csv.DictReader(io.StringIO(instructor.get(f"/api/cohorts/{body['id']}/export.csv?table=questions").text)))
    assert len(questions) == sum(len(c.meta.quiz) for c in course.chapters)
    assert questions[0]["question"] == chapter.meta.quiz[0].prompt and questions[0]["correct_now"] == "1"
    bad_table = instructor.get(f"/api/cohorts/{body['id']}/export.csv?table=secrets")
    assert bad_table.status_code == 422 and bad_table.json()["detail"].startswith("table:")


def test_an_instructor_lists_only_their_cohorts_and_an_admin_all(cohort, backend_people):
    instructor, body = cohort
    other = backend_people.instructor()
    other.post("/api/cohorts", json={"name": "Other"})
    mine = instructor.get("/api/cohorts").json()
    assert [c["id"] for c in mine] == [body["id"]] and mine[0]["learners"] == 0 and mine[0]["instructor"] == "Grace"
    everything = {c["id"] for c in backend_people.admin().get("/api/cohorts").json()}
    assert body["id"] in everything and len(everything) >= 2


@pytest.mark.parametrize("path", ["/api/cohorts/0/dashboard", "/api/cohorts/99999999999999999999/dashboard",
                                  "/api/cohorts/abc/dashboard", "/api/users/4294967296/progress"])
def test_an_impossible_id_is_a_clear_422_on_both_databases(backend_people, path):
    response = backend_people.admin().get(path)
    assert response.status_code == 422 and response.json()["detail"].split(":")[0] in ("cohort_id", "user_id")


def test_the_lab_table_lists_learners_in_the_learner_tables_order_on_both_backends(cohort, backend_people):
    # "adam" and "Bob": byte order (SQLite's) puts Bob first, a case-blind one (the learner table's) adam
    instructor, body = cohort
    for name in ("Bob", "adam", "Cleo"):
        backend_people.learner(name).post("/api/cohorts/join", json={"code": body["join_code"]})
    dashboard = instructor.get(f"/api/cohorts/{body['id']}/dashboard").json()
    learners = [row["display_name"] for row in dashboard["learners"]]
    assert learners == ["adam", "Bob", "Cleo"]
    assert [row["display_name"] for row in dashboard["labs"]["learners"]] == learners
    exported = instructor.get(f"/api/cohorts/{body['id']}/export.csv?table=labs").text
    assert [row["learner"] for row in csv.DictReader(io.StringIO(exported))] == learners
