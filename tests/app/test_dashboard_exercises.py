"""The instructor dashboard's exercise figures: per learner and chapter (solved, tried, answers sent),
per exercise for the cohort, in the JSON, the page and the CSV exports."""

import csv
import io

import pytest


@pytest.fixture
def cohort_with_work(exercise_people, exercise_chapter):
    """Ada solves two exercises (one after a wrong try), Bob tries one and gets it wrong; Cy does nothing."""
    instructor = exercise_people.instructor("Grace")
    cohort = instructor.post("/api/cohorts", json={"name": "Winter cohort"}).json()
    ada, bob, cy = (exercise_people.learner(name) for name in ("Ada", "Bob", "Cy"))
    for learner in (ada, bob, cy):
        assert learner.post("/api/cohorts/join", json={"code": cohort["join_code"]}).status_code == 200
    base = f"/api/chapters/{exercise_chapter.slug}/exercises"
    ada.post(f"{base}/lora-params", json={"answer": 32768})
    ada.post(f"{base}/lora-params", json={"answer": 65536})
    ada.post(f"{base}/regression-prompt", json={"answer": "Tell me a joke about owls"})
    bob.post(f"{base}/lora-params", json={"answer": 1})
    return instructor, cohort


def test_the_dashboard_json_has_exercises_per_learner_and_per_exercise(cohort_with_work, exercise_chapter):
    instructor, cohort = cohort_with_work
    body = instructor.get(f"/api/cohorts/{cohort['id']}/dashboard").json()
    rows = {row["display_name"]: row for row in body["learners"]}
    slug = exercise_chapter.slug
    assert rows["Ada"]["exercises"][slug] == {"solved": 2, "tried": 2, "attempts": 3}
    assert rows["Bob"]["exercises"][slug] == {"solved": 0, "tried": 1, "attempts": 1}
    assert rows["Cy"]["exercises"][slug] == {"solved": 0, "tried": 0, "attempts": 0}
    stats = {x["exercise_id"]: x for x in body["exercises"] if x["chapter"] == slug}
    assert stats["lora-params"] == {"chapter": slug, "exercise_id": "lora-params", "tried": 2, "solved": 1, "attempts": 3}
    assert stats["fix-line"]["tried"] == 0
    chapter_entry = next(c for c in body["chapters"] if c["slug"] == slug)
    assert chapter_entry["exercise_count"] == 3


def test_the_dashboard_page_shows_each_learners_exercises(cohort_with_work):
    instructor, cohort = cohort_with_work
    html = instructor.get(f"/cohorts/{cohort['id']}").text
    section = html.split('id="exercises-title"')[1].split('id="lab-runs"')[0]
    ada = section.split("Ada")[1].split("</tr>")[0]
    assert "2/3" in ada and "3 answers" in ada
    assert "1/3" not in section.split("Bob")[1].split("</tr>")[0]
    assert "lora-params" in section and "1 (50%)" in section


def test_the_csv_exports_carry_the_exercises(cohort_with_work, exercise_chapter):
    instructor, cohort = cohort_with_work
    n = exercise_chapter.number
    learners = list(csv.DictReader(io.StringIO(instructor.get(f"/api/cohorts/{cohort['id']}/export.csv").text)))
    by_name = {row["learner"]: row for row in learners}
    assert (by_name["Ada"][f"ch{n}_exercises_solved"], by_name["Ada"][f"ch{n}_exercises_total"]) == ("2", "3")
    assert by_name["Bob"][f"ch{n}_exercises_solved"] == "0"
    assert by_name["Ada"][f"ch{n}_quiz_total"], "the quiz columns are still there"
    response = instructor.get(f"/api/cohorts/{cohort['id']}/export.csv?table=exercises")
    assert response.status_code == 200
    exercises = list(csv.DictReader(io.StringIO(response.text)))
    row = next(r for r in exercises if r["exercise_id"] == "lora-params")
    assert (row["learners_tried"], row["learners_solved"], row["answers_sent"]) == ("2", "1", "3")
