"""A cohort end to end in real Chromium: an instructor (created with the CLI) opens a cohort; one learner
answers a quiz anonymously, then registers (the answer comes along) and joins; another follows the
shared join link, registers and joins; both answer; the instructor sees them on the dashboard and
downloads the CSV. Then axe checks the account and cohort pages in both themes.
"""

import csv
import json
import io
import os
import subprocess
import sys

import pytest

from app.content import load_course
from app.settings import PROJECT_ROOT
from tests.browser.conftest import _serve
from tests.browser.test_course_walkthrough import _serious_axe_violations

pytestmark = pytest.mark.browser

COURSE = load_course(PROJECT_ROOT / "chapters")
TEACHER = ("grace@example.org", "chalk and blackboards")
ADMIN = ("root@example.org", "keys to every door")


@pytest.fixture(scope="module")
def cohort_server(tmp_path_factory):
    """A server of its own, with an instructor and an admin made by `course users create`."""
    data = tmp_path_factory.mktemp("cohort-browser-data")
    # Every browser here comes from 127.0.0.1, like a classroom behind one address.
    env = {**os.environ, "COURSE_DATA_DIR": str(data), "COURSE_AUTH_RATE_LIMIT_PER_IP": "60/minute"}
    for (email, password), role in ((TEACHER, "instructor"), (ADMIN, "admin")):
        created = subprocess.run(
            [sys.executable, "-m", "app.cli", "users", "create", "--email", email, "--role", role],
            input=password + "\n", env=env, capture_output=True, text=True, timeout=60,
        )
        assert created.returncode == 0, created.stderr
    yield from _serve(env)


def _new_page(browser, url, color_scheme="light"):
    context = browser.new_context(base_url=url, accept_downloads=True, color_scheme=color_scheme)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def _log_in(page, email, password):
    page.goto("/")
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account**")


def _register(page, name, email, password="a learner's long passphrase"):
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()


def _answer(page, chapter, question, option_text):
    block = page.locator(f"#quiz-{question.id}")
    block.get_by_label(option_text, exact=True).check()
    block.get_by_role("button", name="Check answer").click()
    page.locator(f"#quiz-{question.id} .quiz-feedback").wait_for()


def test_an_instructor_and_two_learners_run_a_cohort_end_to_end(browser, cohort_server, artifacts):
    chapter = COURSE.chapters[1]
    first, second = chapter.meta.quiz[0], chapter.meta.quiz[1]
    wrong = next(o for o in first.options if not o.correct)

    teacher = _new_page(browser, cohort_server)
    _log_in(teacher, *TEACHER)
    teacher.get_by_role("link", name="Cohorts").click()
    teacher.get_by_role("link", name="New cohort").click()
    teacher.get_by_label("Name").fill("Spring <b>2027</b>")
    teacher.get_by_role("button", name="Create cohort").click()
    teacher.wait_for_url("**/cohorts/*?notice=created")
    assert teacher.locator("h1").inner_text() == "Spring <b>2027</b>"
    code = teacher.locator("#join-code").inner_text()

    # Ada answers a question before she has an account, then registers: the answer is hers.
    ada = _new_page(browser, cohort_server)
    ada.goto(chapter.url)
    _answer(ada, chapter, first, first.correct_option.text)
    ada.get_by_role("link", name="Register").click()
    _register(ada, "Ada", "ada@example.org")
    ada.wait_for_url("**/account?notice=welcome")
    assert "1 of 10" in ada.locator("#progress-title + p").inner_text()
    row = ada.get_by_role("row", name=f"{chapter.number}. {chapter.title}")
    assert f"1 of {len(chapter.meta.quiz)} correct" in row.inner_text()
    ada.get_by_role("link", name="Join a cohort").click()
    ada.get_by_label("Join code").fill(code.lower().replace("-", ""))
    ada.get_by_role("button", name="Join").click()
    ada.wait_for_url("**/account?notice=joined")
    assert "Spring <b>2027</b>" in ada.locator("#cohorts-title + ul").inner_text()

    # Bob follows the link the instructor shared, registers on the way, and lands back on it.
    bob = _new_page(browser, cohort_server)
    bob.goto(f"/cohorts/join?code={code}")
    bob.locator("#main").get_by_role("link", name="Register").click()
    _register(bob, "Bob", "bob@example.org")
    bob.wait_for_url("**/cohorts/join?code=*")
    assert bob.get_by_label("Join code").input_value() == code
    bob.get_by_role("button", name="Join").click()
    bob.wait_for_url("**/account?notice=joined")
    bob.goto(chapter.url)
    _answer(bob, chapter, first, wrong.text)
    _answer(bob, chapter, second, second.correct_option.text)

    teacher.reload()
    matrix = teacher.locator("table.matrix")
    assert matrix.get_by_role("row").count() == 3  # header + Ada + Bob
    bob_row = matrix.get_by_role("row", name="Bob")
    assert "1/" in bob_row.inner_text() and "just now" in bob_row.inner_text()
    question_row = teacher.locator("table.questions").get_by_role("row").filter(has_text=first.prompt)
    assert wrong.text in question_row.inner_text()
    teacher.screenshot(path=str(artifacts / "cohort-dashboard.png"), full_page=True)

    with teacher.expect_download() as download:
        teacher.get_by_role("link", name="Download learners CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert {r["learner"] for r in rows} == {"Ada", "Bob"}
    by_name = {r["learner"]: r for r in rows}
    assert by_name["Ada"][f"ch{chapter.number}_opened"] == "yes"
    assert (by_name["Ada"][f"ch{chapter.number}_quiz_correct"], by_name["Bob"][f"ch{chapter.number}_quiz_correct"]) == ("1", "1")

    for page in (teacher, ada, bob):
        assert not page.errors, page.errors
        page.context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_the_account_and_cohort_pages(browser, cohort_server, artifacts, theme):
    report = {}

    def audit(page, label):
        report[label] = _serious_axe_violations(page)

    learner = _new_page(browser, cohort_server, theme)
    for path in ("/login", "/register", "/cohorts/join"):
        learner.goto(path)
        audit(learner, path)
    learner.goto("/register")
    _register(learner, f"Axe {theme}", f"axe-{theme}@example.org")
    learner.wait_for_url("**/account**")
    audit(learner, "/account")

    teacher = _new_page(browser, cohort_server, theme)
    _log_in(teacher, *TEACHER)
    teacher.goto("/cohorts/new")
    audit(teacher, "/cohorts/new")
    teacher.get_by_label("Name").fill(f"Axe {theme}")
    teacher.get_by_role("button", name="Create cohort").click()
    teacher.wait_for_url("**/cohorts/*")
    code = teacher.locator("#join-code").inner_text()
    learner.goto(f"/cohorts/join?code={code}")
    audit(learner, "/cohorts/join (logged in)")
    learner.get_by_role("button", name="Join").click()
    learner.goto(COURSE.chapters[0].url)
    teacher.reload()
    audit(teacher, "dashboard")
    teacher.goto("/cohorts")
    audit(teacher, "/cohorts")

    admin = _new_page(browser, cohort_server, theme)
    _log_in(admin, *ADMIN)
    admin.goto("/admin")
    audit(admin, "/admin")

    (artifacts / f"axe-cohorts-{theme}.json").write_text(json.dumps(report, indent=2))
    for page in (learner, teacher, admin):
        page.context.close()
    assert not any(report.values()), {k: v for k, v in report.items() if v}
