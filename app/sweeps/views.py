"""What the API and the pages show of a sweep: its runs with their compliance, and the chapter widget
that launches one and follows the latest."""

import json

from app.lab_runs.models import ACTIVE, Run
from app.lab_runs.scheduler import settle_if_done
from app.lab_runs.views import run_public
from app.sweeps import service, store
from app.sweeps.models import Sweep


def sweep_public(sweep: Sweep, runs: list[Run]) -> dict:
    done = [r for r in runs if r.status not in ACTIVE]
    return {
        "id": sweep.id,
        "status": service.sweep_status(runs),
        "active": any(r.status in ACTIVE for r in runs),
        "recipe": sweep.recipe,
        "base": sweep.base,
        "examples": json.loads(sweep.examples),
        "finished": len(done),
        "runs": [
            {"id": r.id, "examples": service.run_examples(r), "status": r.status,
             "compliance_after": run_public(r)["compliance_after"], "url": f"/labs/runs/{r.id}"}
            for r in runs
        ],
        "url": f"/labs/sweeps/{sweep.id}",
        "chart_url": f"/simulations/compliance?sweep={sweep.id}",
    }


def sweep_detail(sessions, sweep: Sweep) -> dict:
    """The sweep with its runs' current state (a run whose job wrote `done` counts as finished now)."""
    runs = [settle_if_done(sessions, run) for run in store.sweep_runs(sessions, [sweep.id])]
    return sweep_public(sweep, runs)


def sweeps_public(sessions, learner_ids) -> list[dict]:
    sweeps = store.list_sweeps(sessions, set(learner_ids))
    runs = store.sweep_runs(sessions, [s.id for s in sweeps])
    return [sweep_public(s, [r for r in runs if r.sweep_id == s.id]) for s in sweeps]


def latest_sweep(sessions, learner_ids) -> dict | None:
    sweeps = store.list_sweeps(sessions, set(learner_ids))
    return sweep_detail(sessions, sweeps[0]) if sweeps else None
