"""Tests for the chapter 8 advisor: it reproduces every row of the spec's prompt-vs-fine-tune table and
records the decision-tree steps (compliance, 50+ examples, stability, volume, latency, budget) it took.
"""

import dataclasses
import re
from pathlib import Path

import pytest

from simulations import advisor

# The spec's table: task, the settings that describe it, and the recommendations its row allows.
SPEC_ROWS = [
    ("general questions", {"task_type": "general-qa"}, {"prompt"}),
    ("support ticket classification", {"task_type": "classification"}, {"few-shot", "fine-tune"}),
    ("medical record extraction", {"task_type": "extraction"}, {"fine-tune"}),
    ("brand voice", {"task_type": "style-voice"}, {"fine-tune"}),
    ("one-off translation", {"task_type": "one-off", "daily_requests": 1}, {"prompt"}),
    ("safety violations at millions a day", {"task_type": "safety-moderation", "daily_requests": 2_000_000},
     {"fine-tune"}),
    ("summarize your documents", {"task_type": "knowledge-qa"}, {"rag"}),
    ("codebase questions", {"task_type": "codebase-qa", "knowledge_change": "daily"}, {"rag"}),
]


def _advise(**values) -> advisor.Result:
    return advisor.simulate(advisor.Params(**values))


def _steps(result: advisor.Result) -> list[str]:
    return [reason.step for reason in result.reasons]


@pytest.mark.parametrize("row, values, allowed", SPEC_ROWS, ids=[row[0] for row in SPEC_ROWS])
def test_reproduces_the_spec_task_table(row, values, allowed):
    assert _advise(**values).recommendation in allowed


def test_classification_is_few_shot_at_low_volume_and_fine_tune_at_scale_when_prompting_is_good_enough():
    assert _advise(task_type="classification", compliance_required_pct=90, daily_requests=100).recommendation == "few-shot"
    at_scale = _advise(task_type="classification", compliance_required_pct=90, daily_requests=5000)
    assert at_scale.recommendation == "fine-tune" and "volume" in _steps(at_scale)


def test_fine_tune_path_walks_the_spec_decision_tree_in_order():
    result = _advise(task_type="extraction")
    assert _steps(result) == ["compliance", "examples", "stability", "budget", "decision"]
    assert "below your 95% requirement" in result.reasons[0].text


def test_prompting_that_meets_the_requirement_stops_at_step_1_without_volume():
    result = _advise(task_type="general-qa")
    assert _steps(result) == ["compliance", "volume", "decision"]
    assert "meeting your 95% requirement" in result.reasons[0].text


def test_fewer_than_50_examples_block_fine_tuning():
    result = _advise(task_type="extraction", labelled_examples=20)
    assert result.recommendation == "few-shot"
    assert result.reasons[-2].step == "examples" and "at least 50" in result.reasons[-2].text
    assert "falls short" in result.reasons[-1].text


def test_a_task_that_changes_weekly_is_not_fine_tuned():
    result = _advise(task_type="extraction", knowledge_change="weekly")
    assert result.recommendation == "rag"
    assert "knowledge" in _steps(result) and "moving target" in result.reasons[-2].text


def test_a_setup_budget_below_the_training_cost_blocks_fine_tuning():
    result = _advise(task_type="style-voice", setup_budget_usd=50)
    assert result.recommendation == "few-shot" and "budget" in _steps(result)


def test_long_prompts_over_the_latency_tolerance_tip_the_choice_to_fine_tuning():
    relaxed = _advise(task_type="classification", compliance_required_pct=90, daily_requests=100,
                      latency_tolerance_ms=1000)
    strict = _advise(task_type="classification", compliance_required_pct=90, daily_requests=100,
                     latency_tolerance_ms=500)
    assert relaxed.recommendation == "few-shot"
    assert strict.recommendation == "fine-tune" and "latency" in _steps(strict)


def test_a_strict_requirement_adds_fine_tuning_on_top_of_retrieval():
    result = _advise(task_type="knowledge-qa", compliance_required_pct=97)
    assert result.recommendation == "rag+fine-tune"


def test_a_requirement_beyond_prompting_calls_for_fine_tuning_even_if_still_short():
    result = _advise(task_type="extraction", compliance_required_pct=99)
    assert result.recommendation == "fine-tune" and "still short of 99%" in result.reasons[-1].text


def test_prompting_below_the_requirement_is_never_called_acceptable():
    # A 90% prompt against a 97% requirement is a quality reason to fine-tune, whatever the volume.
    result = _advise(task_type="safety-moderation", compliance_required_pct=97, daily_requests=100)
    assert result.recommendation == "fine-tune"
    assert "below your 97% requirement" in result.reasons[0].text and "meeting" not in result.reasons[0].text


def test_the_headline_says_when_the_recommendation_falls_short_of_the_requirement():
    short = _advise(task_type="extraction", labelled_examples=20)  # few-shot at 88% against 95%
    met = _advise(task_type="extraction")
    assert "short of your 95% requirement" in advisor.headline(short)
    assert "short of" not in advisor.headline(met)


def test_fine_tuning_is_not_recommended_when_it_would_not_beat_the_prompt():
    result = _advise(task_type="general-qa", compliance_required_pct=99)
    assert result.recommendation == "few-shot" and "would not do better" in result.reasons[1].text


def test_the_recommendation_reports_its_own_estimates():
    result = _advise(task_type="extraction")
    chosen = next(option for option in result.options if option.name == result.recommendation)
    assert (result.expected_compliance_pct, result.setup_cost_usd, result.monthly_cost_usd) == (
        chosen.compliance_pct, chosen.setup_usd, chosen.monthly_usd)
    assert [option.name for option in result.options] == list(advisor.OPTIONS)


def test_fine_tuned_compliance_grows_with_labelled_examples():
    levels = [next(o for o in _advise(labelled_examples=n).options if o.name == "fine-tune").compliance_pct
              for n in (0, 50, 200, 10_000)]
    assert levels == sorted(levels) and levels[-1] <= advisor.TASKS["classification"].ceiling


@pytest.mark.parametrize("values", [
    {"task_type": "codebase-qa", "knowledge_change": "daily", "labelled_examples": 0, "daily_requests": 1,
     "setup_budget_usd": 0, "latency_tolerance_ms": 100, "compliance_required_pct": 100},
    {"task_type": "safety-moderation", "labelled_examples": 10_000, "daily_requests": 10_000_000,
     "setup_budget_usd": 100_000, "latency_tolerance_ms": 10_000, "compliance_required_pct": 50},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(advisor.figure(run(advisor, **values)))


# --- The chapters and the advisor tell the same story --------------------------------------------------------

CHAPTERS = Path(__file__).resolve().parents[2] / "chapters"
TREE_CHAPTERS = ["01-fine-tune-or-prompt.md", "08-decision-tool.md"]


def _branch_table() -> list[dict]:
    """Chapter 8's table of every branch: one row per (step, answer) with the advisor settings that take it."""
    text = (CHAPTERS / "08-decision-tool.md").read_text(encoding="utf-8")
    table = text[text.index("| Branch |"):].split("\n\n")[0].splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in table[2:]]


def _settings(row: dict) -> dict:
    """The row's `field=value` code spans as advisor inputs, each cast to its Params field's type."""
    types = {field.name: field.type for field in dataclasses.fields(advisor.Params)}
    pairs = re.findall(r"`(\w+)=([^`]+)`", row["Settings that differ from the advisor's defaults"])
    return {name: types[name](value) if types[name] is not str else value for name, value in pairs}


@pytest.mark.parametrize("name", TREE_CHAPTERS)
def test_the_chapters_print_the_advisors_own_decision_tree(name):
    text = (CHAPTERS / name).read_text(encoding="utf-8")
    assert f"```text\n{advisor.tree_text()}\n```" in text, f"{name} does not show advisor.tree_text() verbatim"


def test_chapter_8s_branch_table_covers_every_answer_of_every_step():
    covered = {row["Branch"].split(" (")[0].split(",")[0] for row in _branch_table()}
    expected = {f"{step.label}: {answer}" for step in advisor.DECISION_TREE for answer, _ in step.branches}
    assert expected - {"One-off: no", "Knowledge: no"} <= covered  # "no" there only moves on, as every row shows


def _answer(result: advisor.Result, step: str) -> str:
    """How the advisor answered one question of the tree on this path, read from its reasons."""
    names = _steps(result)
    if step in ("one-off", "knowledge"):
        return "yes" if step in names else "no"
    if step == "compliance":
        return "yes" if "meeting" in next(r.text for r in result.reasons if r.step == step) else "no"
    later = names[max(i for i, name in enumerate(names) if name == step) + 1:]
    goes_on = result.recommendation in ("fine-tune", "rag+fine-tune") or any(
        name not in ("latency", "decision") for name in later)
    return "yes" if goes_on else "no"


@pytest.mark.parametrize("row", _branch_table(), ids=lambda row: row["Branch"])
def test_each_branch_in_chapter_8_leads_where_the_advisor_goes(row):
    result = _advise(**_settings(row))
    assert advisor.OPTION_LABELS[result.recommendation] == row["Advisor says"]
    label, answer = row["Branch"].split(" (")[0].split(",")[0].split(": ")
    step = next(s for s in advisor.DECISION_TREE if s.label == label)
    assert step.step in _steps(result), f"the advisor never asked {label!r} on this path"
    assert _answer(result, step.step) == answer


@pytest.mark.parametrize("row", _branch_table(), ids=lambda row: row["Branch"])
def test_the_advisor_asks_its_questions_in_the_trees_order(row):
    order = [s.step for s in advisor.DECISION_TREE]
    asked = [step for step in _steps(_advise(**_settings(row))) if step in order]
    assert asked == sorted(asked, key=order.index)


def test_every_reason_is_labelled_with_its_step_in_the_tree():
    result = _advise(task_type="classification", compliance_required_pct=90, daily_requests=5000)
    for reason in result.reasons:
        assert reason.text.startswith(advisor.STEP_LABELS[reason.step] + ": ")
