"""The exercise schema of a chapter's front matter (`exercises:`), as pydantic models.

The format is agreed in EXERCISES.md and documented in chapters/README.md. The loader (app.content)
validates it at start-up; whatever can be checked before a learner answers is checked here.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EXERCISE_ID = r"^[a-z0-9-]+$"
DEFAULT_TOLERANCE = 0.01


class _Exercise(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=EXERCISE_ID, max_length=80)
    prompt: str = Field(min_length=10)
    solution: str = Field(min_length=10)
    feedback_wrong: str = Field(min_length=5)


class Mistake(BaseModel):
    """A recognised wrong number and what it reveals about the learner's reasoning."""

    model_config = ConfigDict(extra="forbid")
    value: float
    tolerance: float = Field(DEFAULT_TOLERANCE, ge=0, lt=1)
    feedback: str = Field(min_length=5)


class NumberExercise(_Exercise):
    """Correct when within `tolerance` (relative) of `answer`, or inside `accept_range` (inclusive)."""

    kind: Literal["number"]
    answer: float | None = None
    tolerance: float = Field(DEFAULT_TOLERANCE, ge=0, lt=1)
    accept_range: tuple[float, float] | None = None
    unit: str | None = Field(None, min_length=1, max_length=40)
    mistakes: list[Mistake] = []

    @model_validator(mode="after")
    def _one_way_to_be_right(self) -> "NumberExercise":
        if (self.answer is None) == (self.accept_range is None):
            raise ValueError("give either `answer` (with an optional `tolerance`) or `accept_range`, not both")
        if "tolerance" in self.model_fields_set and self.accept_range is not None:
            raise ValueError("`tolerance` applies to `answer`; with `accept_range` the bounds are the tolerance")
        if self.accept_range is not None and self.accept_range[0] > self.accept_range[1]:
            raise ValueError(f"accept_range: the lower bound must come first, got {list(self.accept_range)}")
        for mistake in self.mistakes:
            if self.accepts(mistake.value):
                raise ValueError(f"mistakes: value {mistake.value:g} would be accepted as correct")
        return self

    def accepts(self, value: float) -> bool:
        if self.accept_range is not None:
            low, high = self.accept_range
            return low <= value <= high
        return within(value, self.answer, self.tolerance)

    @property
    def target(self) -> float:
        """The value a correct answer aims at: `answer`, or the middle of `accept_range`."""
        if self.accept_range is not None:
            return (self.accept_range[0] + self.accept_range[1]) / 2
        return self.answer


class JsonlExercise(_Exercise):
    """One JSONL line: `{"messages": [...]}` with these roles in order and the required texts."""

    kind: Literal["jsonl"]
    roles: list[str] = Field(min_length=1)
    must_include: dict[str, list[str]] = {}
    reference_answer: str = Field(min_length=2)

    @model_validator(mode="after")
    def _required_texts_name_listed_roles(self) -> "JsonlExercise":
        unknown = sorted(set(self.must_include) - set(self.roles))
        if unknown:
            raise ValueError(f"must_include names roles not in `roles`: {', '.join(unknown)}")
        if any(not text for texts in self.must_include.values() for text in texts):
            raise ValueError("must_include: every required text is a non-empty string")
        return self


class TextExercise(_Exercise):
    """Free text (a regression prompt, a failure mode) checked by length and required/forbidden words."""

    kind: Literal["text"]
    min_words: int = Field(1, ge=1, le=200)
    must_include_any: list[Annotated[str, Field(min_length=1)]] = []
    must_not_include: list[Annotated[str, Field(min_length=1)]] = []
    reference_answer: str = Field(min_length=1)


Exercise = Annotated[NumberExercise | JsonlExercise | TextExercise, Field(discriminator="kind")]


def within(value: float, target: float, tolerance: float) -> bool:
    """`value` is within `tolerance` (a fraction of `target`) of `target`; exact when target is 0."""
    return abs(value - target) <= abs(target) * tolerance
