"""Exercises in a chapter's front matter: a well-formed set loads, a malformed one stops start-up.

The refusal names the file, the exercise id and the rule, as it does for quizzes.
"""

from pathlib import Path

import pytest

from app.content import ContentError, load_chapter
from app.exercises.schema import JsonlExercise, NumberExercise, TextExercise
from tests.app.test_content import _chapter_text

NUMBER = """  - id: lora-params
    kind: number
    prompt: How many parameters does a rank-8 adapter add to one 4096 x 4096 matrix?
    solution: r times (d + k) = 8 x 8192 = 65,536.
    feedback_wrong: Count both A and B.
    answer: 65536
    unit: parameters
    mistakes:
      - value: 32768
        feedback: That counts one factor only.
"""
JSONL = """  - id: fix-line
    kind: jsonl
    prompt: Fix this line so that it is a valid training example.
    solution: Close the brace and quote the key.
    feedback_wrong: Check the quotes and braces.
    roles: [user, assistant]
    must_include: {assistant: ["Not legal advice."]}
    reference_answer: '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello. Not legal advice."}]}'
"""
TEXT = """  - id: regression-prompt
    kind: text
    prompt: Write a regression prompt that asks for something outside the legal format.
    solution: Anything casual, such as asking for a joke.
    feedback_wrong: Ask for something the legal format should not touch.
    min_words: 4
    must_include_any: [joke, poem]
    must_not_include: [contract]
    reference_answer: Tell me a joke about penguins.
"""


def _load(tmp_path: Path, exercises: str):
    path = tmp_path / "00-demo.md"
    path.write_text(_chapter_text(front_extra="exercises:\n" + exercises), encoding="utf-8")
    return load_chapter(path)


def test_a_chapter_with_one_exercise_of_each_kind_loads_them_in_order(tmp_path):
    chapter = _load(tmp_path, NUMBER + JSONL + TEXT)
    kinds = [type(e) for e in chapter.meta.exercises]
    assert kinds == [NumberExercise, JsonlExercise, TextExercise]
    assert chapter.exercise("fix-line").roles == ["user", "assistant"]
    assert chapter.exercise("lora-params").tolerance == 0.01, "the default relative tolerance"
    assert chapter.exercise("missing") is None


def test_a_chapter_without_exercises_still_loads(tmp_path):
    path = tmp_path / "00-demo.md"
    path.write_text(_chapter_text(), encoding="utf-8")
    assert load_chapter(path).meta.exercises == []


@pytest.mark.parametrize(
    ("exercises", "message"),
    [
        (NUMBER + NUMBER, "exercise 'lora-params': id is used twice"),
        (NUMBER.replace("kind: number", "kind: essay"), "exercise 'lora-params' (exercises.0): Input tag 'essay' found using 'kind'"),
        (NUMBER.replace("    answer: 65536\n", ""), "exercise 'lora-params' (exercises.0): Value error, give either `answer`"),
        (NUMBER.replace("answer: 65536", "answer: 65536\n    accept_range: [1, 2]"), "give either `answer`"),
        (NUMBER.replace("answer: 65536", "answer: lots"), "exercise 'lora-params' (exercises.0): answer: Input should be a valid number"),
        (NUMBER.replace("answer: 65536", "accept_range: [0.97, 0.90]"), "the lower bound must come first"),
        (NUMBER.replace("value: 32768", "value: 65536"), "mistakes: value 65536 would be accepted as correct"),
        (NUMBER.replace("    solution: r times (d + k) = 8 x 8192 = 65,536.\n", ""), "exercise 'lora-params' (exercises.0): solution: Field required"),
        (NUMBER.replace("id: lora-params", "id: LoRA_params"), "exercise 'LoRA_params' (exercises.0): id: String should match pattern"),
        (NUMBER.replace("    unit: parameters\n", "    unit: parameters\n    colour: red\n"), "colour: Extra inputs are not permitted"),
        (JSONL.replace("assistant: [", "system: ["), "must_include names roles not in `roles`: system"),
        (JSONL.replace("Not legal advice.\"}]}'", "\"}]}'"), "exercise 'fix-line': reference answer is not accepted: Line 1: the assistant message must contain"),
        (JSONL.replace('"Hi"}, {', '"Hi"} {'), "exercise 'fix-line': reference answer is not accepted: Line 1, column"),
        (TEXT.replace("Tell me a joke about penguins.", "Draft a contract joke please."), "reference answer is not accepted: Your answer should not contain 'contract'"),
        (TEXT.replace("min_words: 4", "min_words: 0"), "exercise 'regression-prompt' (exercises.0): min_words: Input should be greater than or equal to 1"),
    ],
)
def test_a_malformed_exercise_stops_loading_naming_file_exercise_and_rule(tmp_path, exercises, message):
    with pytest.raises(ContentError) as caught:
        _load(tmp_path, exercises)
    assert str(caught.value).startswith("00-demo.md: ")
    assert message in str(caught.value)
