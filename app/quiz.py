"""Grading a quiz answer, and the order a learner sees a question's options in.

The order is shuffled per learner so that position gives nothing away, and seeded from the learner id
and question id so that a reload shows the same order; option ids never change, so statistics by
option id still line up.
"""

import hashlib
import random
from dataclasses import dataclass

from app.content import Chapter, Option, Question
from app.errors import AppError


@dataclass(frozen=True)
class Graded:
    question: Question
    chosen: Option

    @property
    def correct(self) -> bool:
        return self.chosen.correct


def find_question(chapter: Chapter, question_id: str) -> Question:
    question = chapter.question(question_id)
    if question is None:
        known = ", ".join(q.id for q in chapter.meta.quiz)
        raise AppError(404, f"Chapter {chapter.slug!r} has no question {question_id!r}. Questions: {known}.")
    return question


def grade(chapter: Chapter, question_id: str, option_id: str | None) -> Graded:
    question = find_question(chapter, question_id)
    if not option_id:
        raise AppError(422, "option: choose one of the answers before submitting.")
    chosen = question.option(option_id)
    if chosen is None:
        known = ", ".join(o.id for o in question.options)
        raise AppError(422, f"option: {option_id!r} is not an option of this question; options: {known}.")
    return Graded(question, chosen)


def options_for(learner_id: str, question: Question) -> list[Option]:
    """The question's options in this learner's own stable order."""
    digest = hashlib.sha256(f"{learner_id}\x1f{question.id}".encode()).digest()
    options = list(question.options)
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(options)
    return options


def option_orders(learner_id: str, chapter: Chapter) -> dict[str, list[Option]]:
    """question id → options in this learner's order, for every question of the chapter."""
    return {q.id: options_for(learner_id, q) for q in chapter.meta.quiz}
