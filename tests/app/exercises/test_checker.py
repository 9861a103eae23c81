"""The exercise checker: tolerance and ranges for numbers, JSONL rules, text rules, and the feedback.

Pure functions, so every case is a direct call; the HTTP tests cover the same checker through the API.
"""

import pytest

from app.exercises.checker import MAX_ANSWER_CHARS, AnswerError, check, parse_number
from app.exercises.schema import JsonlExercise, NumberExercise, TextExercise

COMMON = {"prompt": "Compute the thing asked.", "solution": "The worked answer.", "feedback_wrong": "Try again."}
LORA = NumberExercise(
    kind="number",
    id="lora",
    answer=20971520,
    unit="parameters",
    mistakes=[{"value": 10485760, "feedback": "That counts one factor only."}],
    **COMMON,
)
THRESHOLD = NumberExercise(kind="number", id="threshold", accept_range=(0.90, 0.97), **COMMON)
LINE = JsonlExercise(
    kind="jsonl",
    id="line",
    roles=["system", "user", "assistant"],
    must_include={"assistant": ["Not legal advice."]},
    reference_answer="{}",
    **COMMON,
)
GOOD_LINE = (
    '{"messages": [{"role": "system", "content": "You are a clerk."}, {"role": "user", "content": "Hi"}, '
    '{"role": "assistant", "content": "Hello. Not legal advice."}]}'
)
PROMPT = TextExercise(
    kind="text",
    id="prompt",
    min_words=4,
    must_include_any=["joke", "poem"],
    must_not_include=["numbered"],
    reference_answer="Tell me a joke about penguins.",
    **COMMON,
)


@pytest.mark.parametrize("answer", [20971520, 20971520.0, "20971520", "20,971,520", "20 971 520", "2.0971520e7", 21_100_000])
def test_a_number_within_the_relative_tolerance_is_correct_in_any_usual_spelling(answer):
    verdict = check(LORA, answer)
    assert verdict.correct and verdict.feedback.endswith(" parameters.")


def test_the_correct_answer_is_echoed_as_a_person_writes_numbers():
    assert check(LORA, "20971520").feedback == "Correct: 20,971,520 parameters."
    assert check(THRESHOLD, "0.925").feedback == "Correct: 0.925."


def test_a_number_just_outside_the_tolerance_is_wrong_and_says_by_how_much():
    verdict = check(LORA, 21_400_000)
    assert not verdict.correct
    assert verdict.feedback == "Try again. Your answer is 2% too high."


def test_a_listed_mistake_gets_its_own_feedback_and_the_factor():
    verdict = check(LORA, "10485760")
    assert not verdict.correct
    assert verdict.feedback == "That counts one factor only. Your answer is 50% too low."


def test_an_answer_far_off_is_described_as_a_factor():
    assert check(LORA, 2097152).feedback == "Try again. Your answer is about 10× too low."
    assert check(LORA, 209715200).feedback == "Try again. Your answer is about 10× too high."
    assert check(LORA, -5).feedback == "Try again. Your answer is too low and has the wrong sign."


@pytest.mark.parametrize(("answer", "correct"), [(0.90, True), (0.93, True), (0.97, True), (0.89, False), (0.98, False)])
def test_a_range_accepts_both_bounds_and_everything_between(answer, correct):
    assert check(THRESHOLD, answer).correct is correct


def test_outside_a_range_the_factor_is_measured_from_the_nearer_bound():
    assert check(THRESHOLD, 0.5).feedback == "Try again. Your answer is 44% too low."
    assert check(THRESHOLD, 0.99).feedback == "Try again. Your answer is 2% too high."


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("lots", "'lots' is not a number"),
        ("0,95", "'0,95' is not a number"),
        ("", "type a number"),
        (True, "expected a number, got true/false"),
        (["1"], "expected a number, got list"),
        (None, "expected a number, got NoneType"),
        ("nan", "finite"),
        (10**400, "finite"),
        ("1e400", "finite"),
        ("1" * 65, "at most 64 characters"),
    ],
)
def test_an_answer_that_is_not_a_number_is_refused_before_grading(answer, message):
    with pytest.raises(AnswerError, match=message):
        check(LORA, answer)


def test_parse_number_keeps_decimals_and_strips_only_thousands_separators():
    assert parse_number("1,234.5") == 1234.5
    assert parse_number(" 0.95 ") == 0.95


def test_a_valid_jsonl_line_with_the_roles_and_required_text_is_correct():
    assert check(LINE, GOOD_LINE).correct
    assert check(LINE, "  " + GOOD_LINE + "\n").correct, "surrounding whitespace from a text area is ignored"


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (GOOD_LINE[:-1], f"Line 1, column {len(GOOD_LINE)}: not valid JSON (Expecting ',' delimiter)."),
        (GOOD_LINE.replace('"role": "system"', "'role': 'system'"), "Line 1, column 16: not valid JSON (Expecting property name enclosed in double quotes)."),
        (GOOD_LINE.replace("}, {", "},\n{", 1), "Line 2: a JSONL example is one line"),
        ('["messages"]', "Line 1: a training example is a JSON object, {…}, not a list."),
        ('{"conversation": []}', 'Line 1: the object needs a "messages" key holding a non-empty list.'),
        (GOOD_LINE.replace('"content": "Hi"', '"content": "  "'), "Line 1, message 2 (user): content must be a non-empty string."),
        (GOOD_LINE.replace('"content": "Hi"', '"text": "Hi"'), 'Line 1, message 2: each message is an object with "role" and "content".'),
        (GOOD_LINE.replace('"role": "system", "content": "You are a clerk."}, {', ""), "Line 1: the roles are user, assistant; this exercise needs system, user, assistant, in that order."),
        (GOOD_LINE.replace("Not legal advice.", "not legal advice"), "Line 1: the assistant message must contain 'Not legal advice.' (exactly as written)."),
    ],
)
def test_a_broken_jsonl_line_names_the_line_and_the_rule_it_breaks(answer, feedback):
    verdict = check(LINE, answer)
    assert not verdict.correct
    assert verdict.feedback.startswith(feedback)
    assert verdict.feedback.endswith("Try again.")


@pytest.mark.parametrize("answer", [{"messages": []}, 42, "x" * (MAX_ANSWER_CHARS + 1), "   ", "a joke\x00 please"])
def test_a_jsonl_or_text_answer_of_the_wrong_type_or_size_is_refused(answer):
    with pytest.raises(AnswerError, match="answer: "):
        check(LINE, answer)
    with pytest.raises(AnswerError, match="answer: "):
        check(PROMPT, answer)


@pytest.mark.parametrize(
    ("answer", "correct", "feedback"),
    [
        ("Tell me a JOKE about penguins.", True, "Correct: your answer meets every rule of this exercise."),
        ("Write a short poem on autumn", True, "Correct: your answer meets every rule of this exercise."),
        ("A joke please", False, "Too short: 3 words; write at least 4. Try again."),
        ("Summarise this contract for me", False, "Your answer mentions none of: joke, poem. Try again."),
        ("Give me a numbered list of jokes", False, "Your answer should not contain 'numbered'. Try again."),
    ],
)
def test_a_text_answer_is_checked_by_length_required_and_forbidden_words(answer, correct, feedback):
    verdict = check(PROMPT, answer)
    assert (verdict.correct, verdict.feedback) == (correct, feedback)
