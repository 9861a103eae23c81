"""What the sweep endpoints do, apart from HTTP: launch a sweep within the per-owner limits (each of its
runs counts), and derive its status and its measured compliance points from its runs."""

import json
import uuid
from collections.abc import Collection

from pydantic import Field, field_validator
from sqlalchemy.orm import Session, sessionmaker

from app.lab_runs import store as run_store
from app.lab_runs.models import ACTIVE, Run
from app.lab_runs.service import RunCreate, check_launch
from app.settings import Settings
from app.sweeps import store
from app.sweeps.models import Sweep
from simulations import compliance

DEFAULT_EXAMPLES = [0, 8, 16, 32, 64, 128]
MAX_EXAMPLES = 512  # the generated legal set has about 540 training questions; more would repeat them


class SweepCreate(RunCreate):
    """A sweep: a run's launch fields plus the numbers of training examples, one run each (0: the base)."""

    examples: list[int] = Field(default_factory=lambda: list(DEFAULT_EXAMPLES), min_length=1, max_length=12,
                                description="Training examples per run, 0 to 512; 0 evaluates the untrained base.")

    @field_validator("examples")
    @classmethod
    def _distinct_and_in_range(cls, values: list[int]) -> list[int]:
        bad = [v for v in values if not 0 <= v <= MAX_EXAMPLES]
        if bad:
            raise ValueError(f"each value should be from 0 to {MAX_EXAMPLES}, got {bad[0]}")
        if len(set(values)) != len(values):
            raise ValueError("each number of examples should appear once")
        return sorted(values)


def launch_sweep(request: SweepCreate, settings: Settings, sessions: sessionmaker[Session], learner: str,
                 owners: Collection[str], anonymous: bool = False) -> tuple[Sweep, list[str]]:
    """Check the limits for all the sweep's runs at once, then queue them (smallest first)."""
    overrides = check_launch(request, settings, sessions, owners, runs=len(request.examples), anonymous=anonymous)
    sweep_id = uuid.uuid4().hex
    runs = []
    for examples in request.examples:
        run_id = uuid.uuid4().hex
        runs.append((run_id, examples, (settings.data_dir / "runs" / run_id).resolve()))
    sweep = store.create_sweep(sessions, sweep_id, learner, request.recipe, request.base, overrides, runs,
                               settings.runner)
    return sweep, [run_id for run_id, _, _ in runs]


def run_examples(run: Run) -> int:
    return int(json.loads(run.overrides)["train_examples"])


def sweep_status(runs: list[Run]) -> str:
    """queued (none started), running, succeeded (all), failed (none succeeded) or partial (some did)."""
    statuses = [run.status for run in runs]
    if any(s in ACTIVE for s in statuses):
        return "queued" if all(s == "queued" for s in statuses) else "running"
    succeeded = statuses.count("succeeded")
    if succeeded == len(statuses):
        return "succeeded"
    return "failed" if succeeded == 0 else "partial"


def measured_points(runs: list[Run]) -> list[dict]:
    """One compliance point (with its 90% interval from the held-out set size) per finished run."""
    points = []
    for run in runs:
        metrics = json.loads(run.metrics) if run.metrics else None
        if run.status != "succeeded" or not metrics or metrics.get("compliance_after") is None:
            continue
        points.append(compliance.measured_point(run_examples(run), metrics["compliance_after"],
                                                metrics.get("heldout") or 1))
    return sorted(points, key=lambda p: p["examples"])


def cancel_sweep(sessions: sessionmaker[Session], sweep_id: str) -> None:
    """Cancel each run still queued (at once) or running (at the scheduler's next tick)."""
    for run in store.sweep_runs(sessions, [sweep_id]):
        if run.status in ACTIVE:
            run_store.request_cancel(sessions, run.id)
