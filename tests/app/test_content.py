"""The course content: ten chapter files that parse, with complete front matter and sound quizzes.

Also checks that a broken chapter file is refused with a message naming the file and the rule.
"""

import re
from pathlib import Path

import pytest

from app.content import CALLOUT_TITLES, ContentError, load_chapter
from app.settings import PROJECT_ROOT

EXPECTED = [
    (0, "prompting-has-limits", "Prompting Has Limits", ["compliance"]),
    (1, "fine-tune-or-prompt", "When to Fine-Tune vs When to Prompt", ["cost-crossover"]),
    (2, "training-data", "Training Data Preparation", ["data-balance"]),
    (3, "lora-and-qlora", "LoRA & QLoRA: Fine-Tuning Without Breaking the Bank", ["lora-rank", "lora-params", "vram"]),
    (4, "fine-tuning-pipeline", "The Fine-Tuning Pipeline", ["loss-curve"]),
    (5, "evaluation", "Evaluation: How to Know It Worked", []),
    (6, "deployment", "Deployment: Serving Fine-Tuned Models", ["multi-lora"]),
    (7, "cost-analysis", "Cost Analysis: The Break-Even Calculation", ["break-even"]),
    (8, "decision-tool", "Fine-Tuning Decision Tool", ["advisor"]),
    (9, "connections", "Connections: Where Fine-Tuning Leads", []),
]


def test_the_course_has_ten_chapters_in_order_with_the_planned_slugs_titles_and_simulations(course):
    found = [(c.number, c.slug, c.title, [s.name for s in c.meta.simulations]) for c in course.chapters]
    assert found == EXPECTED


@pytest.mark.parametrize("number", range(10))
def test_every_quiz_has_at_least_three_questions_with_one_correct_option_and_an_explanation_each(course, number):
    chapter = course.chapters[number]
    assert len(chapter.meta.quiz) >= 3
    for question in chapter.meta.quiz:
        assert sum(o.correct for o in question.options) == 1, question.id
        assert all(len(o.explanation.split()) >= 5 for o in question.options), question.id
        assert len({o.explanation for o in question.options}) == len(question.options), question.id


@pytest.mark.parametrize("number", range(10))
def test_every_chapter_asks_the_specs_own_question_or_one_of_its_own(course, number):
    flagged = [q for q in course.chapters[number].meta.quiz if q.from_spec]
    # The spec poses one question in chapters 0-7; chapters 8 and 9 write their own.
    assert len(flagged) == (1 if number <= 7 else 0)


@pytest.mark.parametrize("number", range(10))
def test_every_chapter_is_substantial_and_has_a_table_of_contents_and_a_recap(course, number):
    chapter = course.chapters[number]
    assert chapter.word_count >= 900, f"{chapter.slug} has {chapter.word_count} words"
    assert len(chapter.toc) >= 3
    assert any(entry.title == "What you can do now" for entry in chapter.toc)


def test_the_callouts_the_course_promises_are_there(course):
    html = {c.number: c.html for c in course.chapters}
    assert "callout-core-insight" in html[0]
    assert "callout-rag-escape-hatch" in html[1]
    assert "callout-hidden-cost" in html[7]
    assert "callout-meta-lesson" in html[9]
    assert any("callout-update" in h for h in html.values()), "aged facts are flagged with a dated update"


def test_every_simulation_placeholder_names_what_it_will_show(course):
    for chapter in course.chapters:
        for sim in chapter.meta.simulations:
            assert f'data-simulation="{sim.name}"' in chapter.html
            assert sim.shows.split()[0] in chapter.html


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _question(qid: str, second_correct: bool = False) -> str:
    extra = "\n        correct: true" if second_correct else ""
    return f"""  - id: {qid}
    prompt: Which one is right here?
    options:
      - id: a
        text: This one
        correct: true
        explanation: Because it is the right one.
      - id: b
        text: That one
        explanation: Because it is the wrong one.{extra}
      - id: c
        text: Other one
        explanation: Because it is also a wrong one.
"""


def _chapter_text(front_extra: str = "", body: str = "## Hello\n\nText.\n", second_correct: bool = False) -> str:
    quiz = "quiz:\n" + _question("q1", second_correct) + _question("q2") + _question("q3")
    return f"---\nnumber: 0\nslug: demo\ntitle: Demo chapter\npromise: You will learn the demo.\n{front_extra}{quiz}---\n{body}"


def test_a_well_formed_chapter_file_loads(tmp_path):
    chapter = load_chapter(_write(tmp_path, "00-demo.md", _chapter_text()))
    assert chapter.title == "Demo chapter" and len(chapter.meta.quiz) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter\n", "must start with a '---' front matter block"),
        (_chapter_text(second_correct=True), "needs exactly one correct option"),
        (_chapter_text(body="::: simulation ghost\n:::\n"), "simulation 'ghost' is placed in the text but not listed"),
        (_chapter_text(front_extra="simulations:\n  - {name: lonely, title: Lonely sim, shows: Something it would show.}\n"), "listed but never placed: lonely"),
        (_chapter_text().replace("title: Demo chapter\n", ""), "title: Field required"),
        (_chapter_text(body="::: lab spaceship\n:::\n"), "unknown lab 'spaceship'"),
    ],
)
def test_a_broken_chapter_file_is_refused_with_the_file_and_rule_named(tmp_path, text, message):
    with pytest.raises(ContentError) as caught:
        load_chapter(_write(tmp_path, "00-demo.md", text))
    assert "00-demo.md" in str(caught.value)
    assert message in str(caught.value)


def test_callout_kinds_render_with_their_default_titles(tmp_path):
    body = "".join(f"::: {kind}\nBody of {kind}.\n:::\n\n" for kind in CALLOUT_TITLES)
    chapter = load_chapter(_write(tmp_path, "00-demo.md", _chapter_text(body=body)))
    for kind, title in CALLOUT_TITLES.items():
        assert f'class="callout callout-{kind}"' in chapter.html
        assert title in chapter.html


def test_raw_html_in_a_chapter_is_escaped_not_rendered(tmp_path):
    chapter = load_chapter(_write(tmp_path, "00-demo.md", _chapter_text(body="<script>alert(1)</script>\n")))
    assert "<script>" not in chapter.html


def test_a_figure_is_inlined_with_its_text_alternative_and_caption(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "demo.svg").write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="t d">'
        '<title id="t">Demo</title><desc id="d">A demo diagram.</desc><rect class="dg-c1" fill="currentColor"/></svg>'
    )
    chapter = load_chapter(_write(tmp_path, "00-demo.md", _chapter_text(body="::: figure demo\nWhat it shows.\n:::\n")))
    assert '<figure class="diagram" id="figure-demo"><svg' in chapter.html
    assert "<desc id=\"d\">A demo diagram.</desc>" in chapter.html and "<?xml" not in chapter.html
    assert "<figcaption>\n<p>What it shows.</p>\n</figcaption></figure>" in chapter.html


@pytest.mark.parametrize(
    ("svg", "message"),
    [
        (None, "demo.svg is missing"),
        ('<svg role="img"><title>x</title><desc>y</desc><script>alert(1)</script></svg>', "without scripts"),
        ('<svg role="img"><title>x</title><desc>y</desc><rect onclick="x()"/></svg>', "without scripts"),
        ('<svg role="img"><title>x</title><desc>y</desc><image href="https://example.com/a.png"/></svg>', "links"),
        ('<svg><rect/></svg>', "needs role=\"img\", a <title> and a <desc>"),
    ],
)
def test_a_figure_that_is_missing_unsafe_or_without_a_text_alternative_is_refused(tmp_path, svg, message):
    (tmp_path / "figures").mkdir()
    if svg is not None:
        (tmp_path / "figures" / "demo.svg").write_text(svg)
    with pytest.raises(ContentError, match="00-demo.md") as caught:
        load_chapter(_write(tmp_path, "00-demo.md", _chapter_text(body="::: figure demo\nCaption.\n:::\n")))
    assert message in str(caught.value)


def test_every_diagram_in_the_repository_is_placed_in_a_chapter(course):
    placed = {name for c in course.chapters for name in re.findall(r'id="figure-([a-z0-9-]+)"', c.html)}
    files = {p.stem for p in (PROJECT_ROOT / "chapters" / "figures").glob("*.svg")}
    assert files and files == placed
