"""What the pages and the API show of a chapter's exercises: never an answer before it is earned.

The feedback on the page is recomputed from the latest stored answer (the checker is pure), so the
page after a plain form post shows what the htmx fragment showed.
"""

from dataclasses import dataclass

from app.content import Chapter, ExerciseHtml
from app.exercises.checker import AnswerError, Verdict, check
from app.exercises.schema import JsonlExercise, NumberExercise, TextExercise
from app.exercises.service import ExerciseState

NO_TRIES = ExerciseState(False, 0, None)


@dataclass(frozen=True)
class ExerciseView:
    exercise: NumberExercise | JsonlExercise | TextExercise
    html: ExerciseHtml
    state: ExerciseState
    verdict: Verdict | None  # of the latest answer; None before the first
    answer: str  # what the input shows: the latest answer, or the refused one with `error`
    error: str | None = None

    @property
    def shows_solution(self) -> bool:
        return self.state.shows_solution


def exercise_public(exercise, state: ExerciseState | None = None) -> dict:
    """`{id, kind, prompt, unit?, solved}` for the API: the task, nothing that gives the answer away."""
    public = {"id": exercise.id, "kind": exercise.kind, "prompt": exercise.prompt}
    if isinstance(exercise, NumberExercise) and exercise.unit:
        public["unit"] = exercise.unit
    public["solved"] = bool(state and state.solved)
    return public


def exercise_view(chapter: Chapter, exercise, state: ExerciseState | None, refused: tuple[str, str] | None = None):
    """One exercise for the template; `refused` is (answer, message) for an answer that could not be checked."""
    state = state or NO_TRIES
    verdict = None
    if state.last_answer is not None:
        try:
            verdict = check(exercise, state.last_answer)
        except AnswerError:
            verdict = None  # the exercise changed since; the stored answer no longer fits its shape
    answer, error = refused if refused else (state.last_answer or "", None)
    return ExerciseView(exercise, chapter.exercise_html[exercise.id], state, verdict, answer, error)


def exercise_views(chapter: Chapter, states: dict[str, ExerciseState], refused: dict[str, tuple[str, str]]):
    """Every exercise of the chapter, in file order, ready for `_exercise.html`."""
    return [exercise_view(chapter, e, states.get(e.id), refused.get(e.id)) for e in chapter.meta.exercises]
