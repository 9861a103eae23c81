"""The capstone file's front matter (`chapters/capstone.md`): its stages and their checklist items.

An item with `detect` is also ticked automatically when the app sees the evidence (see
app.capstone.service); every item can be ticked by hand, for work done on another machine.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DETECTORS = {
    "run-succeeded": "a lab run of yours succeeded",
    "own-data-run": "a lab run on a dataset you uploaded succeeded",
    "runs-compared": "two succeeded lab runs of yours differ in their settings",
    "run-evaluated": "a succeeded lab run of yours has compliance measured after training",
}


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$", max_length=60)
    text: str = Field(min_length=10)
    detect: Literal["run-succeeded", "own-data-run", "runs-compared", "run-evaluated"] | None = None


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=3)
    items: list[ChecklistItem] = Field(min_length=1)


class CapstoneMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=3)
    promise: str = Field(min_length=10)
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "CapstoneMatter":
        for kind, ids in (("stage", [s.id for s in self.stages]), ("item", [i.id for s in self.stages for i in s.items])):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"{kind} id {repeated[0]!r} is used twice")
        return self

    @property
    def items(self) -> list[ChecklistItem]:
        return [item for stage in self.stages for item in stage.items]
