"""The cohort pages: an instructor creates a cohort and runs it from its dashboard (code, rotation,
removal, matrix, questions, CSV links, the place for lab runs); a learner joins with a code; everything
typed by a user is escaped."""

import re

SCRIPT = "<script>alert(1)</script>"


def _create(instructor, name="Winter cohort") -> int:
    response = instructor.post("/cohorts", data={"name": name, "starts_on": "2027-01-10"}, follow_redirects=False)
    assert response.status_code == 303
    return int(re.match(r"/cohorts/(\d+)\?notice=created", response.headers["location"]).group(1))


def _code(html: str) -> str:
    return re.search(r'id="join-code">([A-Z0-9-]+)<', html).group(1)


def test_an_instructor_creates_a_cohort_and_sees_its_dashboard(people):
    instructor = people.instructor()
    assert "New cohort" in instructor.get("/cohorts").text
    cohort_id = _create(instructor)
    html = instructor.get(f"/cohorts/{cohort_id}?notice=created").text
    assert "Winter cohort" in html and "Cohort created" in html and "starts 2027-01-10" in html
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", _code(html))
    assert f'href="/api/cohorts/{cohort_id}/export.csv"' in html
    assert 'id="lab-runs"' in html and "Lab runs" in html
    assert "No learner has joined yet" in html
    assert f'href="/cohorts/{cohort_id}"' in instructor.get("/cohorts").text


def test_a_refused_cohort_form_comes_back_saying_why(people):
    instructor = people.instructor()
    page = instructor.post("/cohorts", data={"name": "Kept", "starts_on": "next week"})
    assert page.status_code == 422 and "starts_on: use a date like" in page.text and 'value="Kept"' in page.text


def test_a_learner_joins_with_the_form_and_appears_on_the_dashboard(people, course):
    instructor = people.instructor()
    cohort_id = _create(instructor)
    code = _code(instructor.get(f"/cohorts/{cohort_id}").text)
    learner = people.learner("Lin")
    assert f'value="{code}"' in learner.get(f"/cohorts/join?code={code}").text
    response = learner.post("/cohorts/join", data={"code": code}, follow_redirects=False)
    assert response.headers["location"] == "/account?notice=joined"
    learner.get(course.chapters[2].url)
    html = instructor.get(f"/cohorts/{cohort_id}").text
    row = html.split("Lin</span>")[1].split("</tr>")[0]
    assert row.count("is-opened") == 1 and "just now" in row


def test_a_mistyped_code_comes_back_with_the_reason(people):
    page = people.learner().post("/cohorts/join", data={"code": "QQQQ-QQQQ"})
    assert page.status_code == 404 and "no cohort has this join code" in page.text and 'value="QQQQ-QQQQ"' in page.text


def test_the_join_page_sends_a_visitor_without_an_account_to_register_and_back(client):
    html = client.get("/cohorts/join?code=ABCD-EFGH").text
    assert 'href="/register?next=/cohorts/join%3Fcode%3DABCD-EFGH"' in html
    assert 'name="code"' not in html


def test_rotating_and_removing_from_the_dashboard(people):
    instructor = people.instructor()
    cohort_id = _create(instructor)
    old = _code(instructor.get(f"/cohorts/{cohort_id}").text)
    learner = people.learner("Removable")
    learner.post("/cohorts/join", data={"code": old})
    response = instructor.post(f"/cohorts/{cohort_id}/code", follow_redirects=False)
    assert response.headers["location"] == f"/cohorts/{cohort_id}?notice=rotated"
    assert _code(instructor.get(f"/cohorts/{cohort_id}").text) != old
    removed = instructor.post(f"/cohorts/{cohort_id}/members/{learner.user['id']}/remove", follow_redirects=False)
    assert removed.headers["location"] == f"/cohorts/{cohort_id}?notice=removed"
    assert "Removable" not in instructor.get(f"/cohorts/{cohort_id}").text


def test_names_and_titles_with_markup_are_shown_as_text_everywhere(people):
    instructor = people.instructor(f"Teacher {SCRIPT}")
    cohort_id = _create(instructor, name=f"Cohort {SCRIPT}")
    code = _code(instructor.get(f"/cohorts/{cohort_id}").text)
    learner = people.learner(f"Learner {SCRIPT}")
    learner.post("/cohorts/join", data={"code": code})
    pages = [instructor.get(f"/cohorts/{cohort_id}").text, instructor.get("/cohorts").text,
             people.admin().get("/admin").text, learner.get("/account").text]
    for html in pages:
        assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_learner_gets_404_for_a_dashboard_and_403_for_the_cohort_list(people):
    cohort_id = _create(people.instructor())
    learner = people.learner()
    page = learner.get(f"/cohorts/{cohort_id}")
    assert page.status_code == 404 and "<html" in page.text and f"There is no cohort {cohort_id}." in page.text
    assert learner.get("/cohorts").status_code == 403
    assert learner.post(f"/cohorts/{cohort_id}/code").status_code == 404
