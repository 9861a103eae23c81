"""The worked answers of the exercises in chapters 1, 5, 7, 8 and 9, recomputed here from the figures their prompts
give, and graded by the server's own checker: the right answer passes, every listed mistake gets its own feedback.
"""

import math

import pytest

from app.content import load_course
from app.exercises.checker import check
from app.settings import PROJECT_ROOT

COURSE = {chapter.number: chapter for chapter in load_course(PROJECT_ROOT / "chapters").chapters}


def _per_request(input_tokens, output_tokens, input_price, output_price):
    return (input_tokens * input_price + output_tokens * output_price) / 1e6


def _lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


_ROUGE_LCS = _lcs("within 14 days serve the defence".split(), "serve the defence within 14 days".split())

# (chapter, exercise id): the answer computed from the prompt's figures.
COMPUTED = {
    (1, "crossover-day"): 40 / (4_000 * (1_200 - 60) * 2.50 / 1e6),
    (1, "requirement-from-failure-budget"): 100 * (1 - 10 / 500),
    (5, "perplexity-from-validation-loss"): math.exp(1.2),
    (5, "rouge-l-word-order"): 2 * (_ROUGE_LCS / 6) * (_ROUGE_LCS / 6) / (_ROUGE_LCS / 6 + _ROUGE_LCS / 6),
    (5, "margin-on-forty-prompts"): 100 * 1.96 * math.sqrt(0.95 * 0.05 / 40),
    (7, "break-even-requests"): 600 / (0.004 - 0.0015),
    (7, "every-token-at-tuned-rates"): (320 * 400 * 3 * 3.00 / 1e6) / (
        _per_request(1_800 + 200, 100, 0.15, 0.60) - _per_request(50 + 200, 100, 0.30, 1.20)),
    (7, "self-hosting-volume"): (1_500 / 30) / (0.00775 - 0.0001),
    (7, "training-bill-per-token"): 640 * 450 * 4 * 25 / 1e6,
    (8, "choose-the-requirement"): 100 * (1 - 10 / 500),  # the floor of the accepted range
    (8, "advisor-payback-days"): 100 / (1_000 * (1_500 - 50) * 5 / 1e6),
    (9, "distillation-break-even"): (10_000 * 0.01 + 20) / (0.01 - 0.0005),
}


@pytest.mark.parametrize("key", COMPUTED, ids=lambda key: f"ch{key[0]}-{key[1]}")
def test_the_recomputed_answer_is_graded_correct(key):
    number, exercise_id = key
    exercise = COURSE[number].exercise(exercise_id)
    verdict = check(exercise, COMPUTED[key])
    assert verdict.correct, verdict.feedback


def test_every_numeric_exercise_in_these_chapters_is_recomputed_here():
    numeric = {(n, e.id) for n in (1, 5, 7, 8, 9) for e in COURSE[n].meta.exercises if e.kind == "number"}
    assert numeric == set(COMPUTED)


@pytest.mark.parametrize("number", [1, 5, 7, 8, 9])
def test_each_chapter_has_three_exercises_and_each_listed_mistake_gets_its_own_feedback(number):
    exercises = COURSE[number].meta.exercises
    assert len(exercises) >= 3
    for exercise in exercises:
        if exercise.kind == "number":
            for mistake in exercise.mistakes:
                verdict = check(exercise, mistake.value)
                assert not verdict.correct and verdict.feedback.startswith(mistake.feedback), exercise.id
        else:
            assert check(exercise, exercise.reference_answer).correct, exercise.id


@pytest.mark.parametrize(("number", "exercise_id", "answer"), [
    (5, "regression-prompt-for-leakage", "Please draft a letter to the landlord about the tenancy deposit."),
    (1, "knowledge-or-behavior", "Fine-tune the model every night on the new deadlines."),
    (8, "name-the-deciding-step", "Step 1 decides because prompting passes."),
    (9, "next-technique", "Train more epochs of supervised fine-tuning."),
    (9, "distilled-training-line", '{"messages": [{"role": "user", "content": "Dismissed."}, '
                                   '{"role": "assistant", "content": "1. Act."}]}'),
])
def test_a_plausible_wrong_written_answer_is_refused(number, exercise_id, answer):
    assert not check(COURSE[number].exercise(exercise_id), answer).correct
