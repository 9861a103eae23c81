"""A learner's walk through the course in real headless Chromium: chapters, quizzes, themes, axe.

Screenshots of the home page and a chapter in both themes land in test-artifacts/ for a person to look at.
"""

import json
from pathlib import Path

import pytest

from app.content import load_course
from app.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

COURSE = load_course(PROJECT_ROOT / "chapters")
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"


def test_a_learner_walks_all_ten_chapters_by_the_next_links(page):
    page.goto("/")
    assert page.locator(".chapter-card").count() == 10
    page.get_by_role("link", name="Chapter 0:").click()
    for chapter in COURSE.chapters:
        page.wait_for_url(f"**{chapter.url}")
        assert page.locator("h1").inner_text() == chapter.title
        if chapter.number < 9:
            page.locator("a[rel=next]").click()
    page.goto("/")
    assert page.locator(".badge-opened").count() == 10


def test_answering_right_and_wrong_swaps_in_the_feedback_without_a_reload(page):
    chapter = COURSE.chapters[1]
    first, second = chapter.meta.quiz[0], chapter.meta.quiz[1]
    page.goto(chapter.url)
    page.evaluate("window.__sameDocument = true")

    block = page.locator(f"#quiz-{first.id}")
    block.get_by_label(first.correct_option.text, exact=True).check()
    block.get_by_role("button", name="Check answer").click()
    feedback = page.locator(f"#quiz-{first.id} .quiz-feedback")
    feedback.wait_for()
    assert "Correct." in feedback.inner_text()
    assert first.correct_option.explanation in feedback.inner_text()

    wrong = next(o for o in second.options if not o.correct)
    block = page.locator(f"#quiz-{second.id}")
    block.get_by_label(wrong.text, exact=True).check()
    block.get_by_role("button", name="Check answer").click()
    feedback = page.locator(f"#quiz-{second.id} .quiz-feedback")
    feedback.wait_for()
    assert "Not quite." in feedback.inner_text() and wrong.explanation in feedback.inner_text()
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded instead of swapping"
    assert page.evaluate("document.activeElement.classList.contains('quiz-feedback')")


def test_the_quiz_works_without_javascript(browser, base_url):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    chapter = COURSE.chapters[2]
    question = chapter.meta.quiz[0]
    page.goto(chapter.url)
    block = page.locator(f"#quiz-{question.id}")
    block.get_by_label(question.correct_option.text, exact=True).check()
    block.get_by_role("button", name="Check answer").click()
    page.wait_for_url(f"**{chapter.url}#quiz-{question.id}")
    assert "Correct." in page.locator(f"#quiz-{question.id} .quiz-feedback").inner_text()
    context.close()


def test_the_theme_switch_is_keyboard_operable_and_remembered(page):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.focus("#theme-toggle")
    page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"


def _serious_axe_violations(page) -> list[dict]:
    # Evaluated through the DevTools protocol, which the pages' CSP does not govern (a <script> tag it would block).
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation_on_any_page(browser, base_url, artifacts, theme):
    context = browser.new_context(base_url=base_url, color_scheme=theme)
    page = context.new_page()
    report = {}
    for path in ["/", *(c.url for c in COURSE.chapters)]:
        page.goto(path)
        report[path] = _serious_axe_violations(page)
    (artifacts / f"axe-{theme}.json").write_text(json.dumps(report, indent=2))
    context.close()
    assert not any(report.values()), json.dumps({k: v for k, v in report.items() if v}, indent=2)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("name", "width"), [("desktop", 1280), ("phone", 390)])
def test_screenshots_of_home_and_a_chapter_in_each_theme(browser, base_url, artifacts, theme, name, width):
    context = browser.new_context(base_url=base_url, color_scheme=theme, viewport={"width": width, "height": 900})
    page = context.new_page()
    for label, path in [("home", "/"), ("chapter3", COURSE.chapters[3].url)]:
        page.goto(path)
        shot: Path = artifacts / f"{label}-{theme}-{name}.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000
        # Nothing may overflow sideways on a phone: the page is as wide as the viewport.
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    context.close()
