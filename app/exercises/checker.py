"""Checks a learner's answer to an exercise and explains what is wrong: pure, no database or web.

`check()` returns a Verdict for any answer of the right shape; an answer of the wrong shape (not a
number, too long, empty) raises AnswerError, which the web layer turns into a 422 or an inline message.
"""

import json
import math
import re
from dataclasses import dataclass

from app.exercises.schema import JsonlExercise, NumberExercise, TextExercise, within

MAX_ANSWER_CHARS = 4000
# Thousands separators a person may type: "20,971,520", "20 971 520", "20_971_520" (and thin spaces).
_SEPARATORS = re.compile(r"(?<=\d)[,_\s\u202f\u2009](?=\d{3}(\D|$))")


class AnswerError(ValueError):
    """The answer cannot be checked at all; the message says what shape it must have."""


@dataclass(frozen=True)
class Verdict:
    correct: bool
    feedback: str


def check(exercise: NumberExercise | JsonlExercise | TextExercise, answer: object) -> Verdict:
    """Grade `answer` (as posted: a JSON value, or a form field's string) against `exercise`."""
    if isinstance(exercise, NumberExercise):
        return _check_number(exercise, parse_number(answer))
    text = _text_answer(answer)
    if isinstance(exercise, JsonlExercise):
        problem, praise = jsonl_problem(exercise, text), "a valid training line with the roles and texts asked for"
    else:
        problem, praise = text_problem(exercise, text), "your answer meets every rule of this exercise"
    if problem is None:
        return Verdict(True, f"Correct: {praise}.")
    return Verdict(False, f"{problem} {exercise.feedback_wrong}")


def parse_number(answer: object) -> float:
    """A JSON number, or a string holding one (separators allowed); anything else is an AnswerError."""
    if isinstance(answer, bool):
        raise AnswerError("answer: expected a number, got true/false.")
    if isinstance(answer, int | float):
        try:
            value = float(answer)
        except OverflowError:  # a JSON integer with hundreds of digits
            raise AnswerError("answer: expected a finite number.") from None
    elif isinstance(answer, str):
        text = answer.strip()
        if not text:
            raise AnswerError("answer: type a number before checking.")
        if len(text) > 64:
            raise AnswerError("answer: a number is at most 64 characters long.")
        try:
            value = float(_SEPARATORS.sub("", text))
        except ValueError:
            raise AnswerError(f"answer: {text!r} is not a number; write digits, e.g. 0.95 or 20971520.") from None
    else:
        raise AnswerError(f"answer: expected a number, got {type(answer).__name__}.")
    if not math.isfinite(value):
        raise AnswerError("answer: expected a finite number.")
    return value


def _text_answer(answer: object) -> str:
    if not isinstance(answer, str):
        raise AnswerError(f"answer: expected text (a string), got {type(answer).__name__}.")
    if len(answer) > MAX_ANSWER_CHARS:
        raise AnswerError(f"answer: at most {MAX_ANSWER_CHARS} characters, got {len(answer)}.")
    if "\x00" in answer:  # no database stores it in text, and no one types it
        raise AnswerError("answer: contains a NUL character (\\u0000); remove it.")
    text = answer.strip()
    if not text:
        raise AnswerError("answer: write your answer before checking.")
    return text


def _check_number(exercise: NumberExercise, value: float) -> Verdict:
    unit = f" {exercise.unit}" if exercise.unit else ""
    if exercise.accepts(value):
        return Verdict(True, f"Correct: {show_number(value)}{unit}.")
    hint = next(
        (m.feedback for m in exercise.mistakes if within(value, m.value, m.tolerance)), exercise.feedback_wrong
    )
    return Verdict(False, f"{hint} {_how_far(exercise, value)}")


def show_number(value: float) -> str:
    """20971520 → '20,971,520'; 0.93 → '0.93': as a person would write it, not in e-notation."""
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6f}".rstrip("0").rstrip(".") if abs(value) >= 1e-4 else f"{value:.3g}"


def _how_far(exercise: NumberExercise, value: float) -> str:
    """'Your answer is 2× too high.' against the answer, or the nearer bound of the accepted range."""
    if exercise.accept_range is not None:
        low, high = exercise.accept_range
        target = high if value > high else low
    else:
        target = exercise.answer
    direction = "too high" if value > target else "too low"
    if target == 0 or value == 0 or (value > 0) != (target > 0):
        return f"Your answer is {direction}" + (" and has the wrong sign." if value and target else ".")
    ratio = value / target
    if 0.5 <= ratio <= 2:
        return f"Your answer is {abs(ratio - 1):.0%} {direction}."
    factor = ratio if ratio > 1 else 1 / ratio
    return f"Your answer is about {factor:,.3g}× {direction}."


def jsonl_problem(exercise: JsonlExercise, text: str) -> str | None:
    """The first rule the line breaks, as a sentence; None when it breaks none."""
    if "\n" in text:
        return "Line 2: a JSONL example is one line; remove the line breaks inside it."
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"Line 1, column {exc.colno}: not valid JSON ({exc.msg})."
    if not isinstance(record, dict):
        return "Line 1: a training example is a JSON object, {…}, not a " + type(record).__name__ + "."
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return 'Line 1: the object needs a "messages" key holding a non-empty list.'
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            return f'Line 1, message {number}: each message is an object with "role" and "content".'
        content = message["content"]
        if not isinstance(content, str) or not content.strip():
            return f"Line 1, message {number} ({message['role']}): content must be a non-empty string."
    roles = [m["role"] for m in messages]
    if roles != exercise.roles:
        return f"Line 1: the roles are {', '.join(map(str, roles))}; this exercise needs {', '.join(exercise.roles)}, in that order."
    for role, required in exercise.must_include.items():
        said = " ".join(m["content"] for m in messages if m["role"] == role)
        missing = [t for t in required if t not in said]
        if missing:
            return f"Line 1: the {role} message must contain {missing[0]!r} (exactly as written)."
    return None


def text_problem(exercise: TextExercise, text: str) -> str | None:
    """The first rule the text breaks (length, required words, forbidden words); None when none."""
    words = len(text.split())
    if words < exercise.min_words:
        return f"Too short: {words} word{'s' if words != 1 else ''}; write at least {exercise.min_words}."
    lowered = text.lower()
    if exercise.must_include_any and not any(w.lower() in lowered for w in exercise.must_include_any):
        return f"Your answer mentions none of: {', '.join(exercise.must_include_any)}."
    present = [w for w in exercise.must_not_include if w.lower() in lowered]
    if present:
        return f"Your answer should not contain {present[0]!r}."
    return None
