"""Grading a quiz answer: look up the question and option, or say precisely what is unknown."""

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
