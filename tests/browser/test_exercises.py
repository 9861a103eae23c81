"""Exercises and the capstone checklist in real headless Chromium: htmx swaps with focus on the
feedback, the same forms without JavaScript, inline messages, axe, and screenshots for a person.

The server's chapter 3 carries the known exercises of tests/exercise_course.py.
"""

import json

import httpx
import pytest

from tests.browser.test_course_walkthrough import _serious_axe_violations
from tests.exercise_course import EXERCISE_CHAPTER

pytestmark = pytest.mark.browser

GOOD_LINE = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello. Not legal advice."}]}'


@pytest.fixture
def chapter_url(exercise_base_url):
    chapters = httpx.get(f"{exercise_base_url}/api/chapters").json()
    return chapters[EXERCISE_CHAPTER]["url"]


def test_a_wrong_then_right_number_swaps_in_feedback_then_the_solution_without_a_reload(exercise_page, chapter_url):
    exercise_page.goto(chapter_url + "#exercises")
    exercise_page.evaluate("window.__sameDocument = true")
    block = exercise_page.locator("#exercise-lora-params")
    block.get_by_label("Your answer").fill("32768")
    block.get_by_role("button", name="Check answer").click()
    feedback = exercise_page.locator("#exercise-lora-params .quiz-feedback")
    feedback.wait_for()
    assert "Not yet." in feedback.inner_text() and "That counts one factor only." in feedback.inner_text()
    assert exercise_page.evaluate("document.activeElement.classList.contains('quiz-feedback')")

    exercise_page.locator("#exercise-lora-params").get_by_label("Your answer").fill("65,536")
    exercise_page.locator("#exercise-lora-params").get_by_role("button", name="Check again").click()
    exercise_page.locator("#exercise-lora-params .quiz-feedback.is-right").wait_for()
    solution = exercise_page.locator("#exercise-lora-params .exercise-solution")
    assert solution.is_visible() and "8 x 8192" in solution.inner_text()
    assert exercise_page.evaluate("window.__sameDocument") is True, "the page reloaded instead of swapping"


def test_an_answer_that_is_not_a_number_gets_an_inline_message(exercise_page, chapter_url):
    exercise_page.goto(chapter_url + "#exercises")
    block = exercise_page.locator("#exercise-lora-params")
    block.get_by_label("Your answer").fill("about 65k")
    block.get_by_role("button", name="Check answer").click()
    alert = exercise_page.locator("#exercise-lora-params-error [role=alert]")
    alert.wait_for()
    assert "is not a number" in alert.inner_text()


def test_the_jsonl_exercise_works_without_javascript(browser, exercise_base_url, chapter_url):
    context = browser.new_context(base_url=exercise_base_url, java_script_enabled=False)
    page = context.new_page()
    page.goto(chapter_url)
    block = page.locator("#exercise-fix-line")
    block.get_by_label("Your answer").fill(GOOD_LINE)
    block.get_by_role("button", name="Check answer").click()
    page.wait_for_url(f"**{chapter_url}#exercise-fix-line")
    assert "Correct." in page.locator("#exercise-fix-line .quiz-feedback").inner_text()
    context.close()


def test_ticking_a_capstone_item_saves_it_by_itself(exercise_page):
    exercise_page.goto("/capstone")
    box = exercise_page.get_by_label("I wrote down the task in one paragraph", exact=False)
    with exercise_page.expect_response("**/capstone/checklist"):
        box.check()
    exercise_page.locator("#checklist .checklist-summary[role=status]").wait_for()
    exercise_page.reload()
    assert exercise_page.get_by_label("I wrote down the task in one paragraph", exact=False).is_checked()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_exercises_and_capstone_pass_axe_and_are_screenshotted(browser, exercise_base_url, chapter_url, artifacts, theme):
    context = browser.new_context(base_url=exercise_base_url, color_scheme=theme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(chapter_url)
    page.locator("#exercise-fix-line").get_by_label("Your answer").fill('{"messages": [')
    page.locator("#exercise-fix-line").get_by_role("button", name="Check answer").click()
    page.locator("#exercise-fix-line .quiz-feedback").wait_for()
    report = {"chapter": _serious_axe_violations(page)}
    page.locator("#exercises").screenshot(path=str(artifacts / f"exercises-{theme}.png"))
    page.goto("/capstone")
    report["capstone"] = _serious_axe_violations(page)
    page.screenshot(path=str(artifacts / f"capstone-{theme}.png"), full_page=True)
    context.close()
    assert not any(report.values()), json.dumps(report, indent=2)
