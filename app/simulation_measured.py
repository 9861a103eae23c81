"""Simulations meet real runs: the learner's own measurements, read from their runs' files, drawn over the
simulation that models them (`?run=ID` or `?sweep=ID`).

The simulations get the measurements as plain data (lists and numbers) and never see a run; this module reads
the files (events.jsonl, metrics.json, .npy artefacts) with the standard library and NumPy only, checks that
the run or sweep is the caller's (404 otherwise) and never lets a measured answer into the shared run cache.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from app.authz import owned_run, owned_sweep
from app.errors import AppError
from app.identity import current_visitor
from app.lab_runs import store as run_store
from app.lab_runs.events import read_events
from app.lab_runs.models import Run
from app.lab_runs.scheduler import settle_if_done
from app.simulation_runs import (
    RUNS,
    SimulationRun,
    figure_to_json,
    parse_query,
    run_simulation,
    run_simulation_async,
)
from app.sweeps import service as sweeps, store as sweep_store
from simulations import lora_rank

# Which simulations take which kind of measurement, named by its query parameter.
REFERENCES = {"compliance": "sweep", "loss-curve": "run", "vram": "run", "break-even": "run", "lora-rank": "run"}
REAL_DELTA_BASE = "tiny"  # the offline default base, whose ΔW `course-lab base build` makes


@dataclasses.dataclass(frozen=True)
class Measurement:
    kind: str  # "run" or "sweep": the query parameter that named it
    ref: str  # the id as the learner gave it (or "latest")
    measured: Any  # plain data for the simulation, or None when nothing is finished yet
    note: str | None  # a sentence for the headline: what is missing, or how much is in


def split_reference(name: str, query: dict[str, str]) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The simulation's own query and the (kind, id) of the measurement asked for, if this simulation takes one.
    A `run` or `sweep` on a simulation that models neither stays in the query, to be refused by name."""
    kind = REFERENCES.get(name)
    if kind is None or kind not in query:
        return query, None
    rest = {key: value for key, value in query.items() if key != kind}
    ref = query[kind].strip()
    if not ref:
        raise AppError(422, f"{kind}: give the id of one of your {kind}s")
    return rest, (kind, ref)


def measure(name: str, kind: str, ref: str, sessions, learner_ids) -> Measurement:
    if kind == "sweep":
        return _sweep_measurement(ref, sessions, learner_ids)
    run = _chosen_run(ref, sessions, learner_ids)
    if run is None:
        return Measurement(kind, ref, None, "You have no finished run yet: train one in chapter 4's lab and it "
                                            "is drawn here.")
    if run.status != "succeeded":
        state = "is still " + run.status if run.status in ("queued", "running") else run.status
        return Measurement(kind, run.id, None,
                           f"Your run {state}, so nothing of it is drawn yet: these are the model's curves alone.")
    try:
        return Measurement(kind, run.id, MEASURE_RUN[name](run), None)
    except AppError as exc:  # a finished run without the file this chart needs: the model alone, and why
        return Measurement(kind, run.id, None, exc.detail)


def _chosen_run(ref: str, sessions, learner_ids) -> Run | None:
    """`latest` is the caller's newest finished run (None if they have none); any other value is a run id of
    theirs (404 otherwise)."""
    if ref == "latest":
        finished = [r for r in run_store.list_runs(sessions, set(learner_ids)) if r.status == "succeeded"]
        return finished[0] if finished else None
    return settle_if_done(sessions, owned_run(sessions, ref, learner_ids))


def _sweep_measurement(ref: str, sessions, learner_ids) -> Measurement:
    sweep = owned_sweep(sessions, ref, learner_ids)
    runs = [settle_if_done(sessions, run) for run in sweep_store.sweep_runs(sessions, [sweep.id])]
    points = sweeps.measured_points(runs)
    if not points:
        return Measurement("sweep", sweep.id, None, f"Your sweep has no finished run yet (0 of {len(runs)}): "
                                                    "its points appear here as its runs finish.")
    note = None if len(points) == len(runs) else f"({len(points)} of {len(runs)} runs of your sweep measured so far.)"
    return Measurement("sweep", sweep.id, points, note)


def loss_measured(run: Run) -> dict:
    """The run's training and validation losses, step by step, exactly as its events recorded them."""
    out = {"step": [], "train_loss": [], "val_step": [], "val_loss": []}
    for _, event in read_events(run.run_dir):
        if event.get("type") != "loss":
            continue
        out["step"].append(event["step"])
        out["train_loss"].append(event["loss"])
        if event.get("eval_loss") is not None:
            out["val_step"].append(event["step"])
            out["val_loss"].append(event["eval_loss"])
    return out


def run_metrics(run: Run) -> dict:
    if run.metrics:
        return json.loads(run.metrics)
    try:
        return json.loads((Path(run.run_dir) / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise AppError(404, f"Run {run.id} has no metrics.json to read.") from None


def cost_measured(run: Run) -> dict:
    """What memory and cost simulations need of a run: its peak memory, training time, tokens and sizes."""
    metrics = run_metrics(run)
    keys = ("peak_memory_mb", "train_duration_s", "tokens", "device", "quantization", "total_params",
            "trainable_params")
    return {key: metrics.get(key) for key in keys}


def adapter_measured(run: Run) -> dict:
    """The run's adapter update on the real ΔW's layer (saved by the engine as .npy), as its spectrum."""
    folder = Path(run.run_dir)
    try:
        update = np.load(folder / "adapter_update.npy")
        info = json.loads((folder / "adapter_update.json").read_text())
    except (OSError, ValueError):
        raise AppError(404, f"Run {run.id} saved no adapter update for chapter 3 (runs save it since this "
                            "course version); train a new one.") from None
    return lora_rank.adapter_spectrum(update, info["r"]) | {"layer": info["layer"]}


MEASURE_RUN = {"loss-curve": loss_measured, "vram": cost_measured, "break-even": cost_measured,
               "lora-rank": adapter_measured}


def real_delta_run(params, settings) -> SimulationRun:
    """lora-rank on the real ΔW read from the data dir (NumPy only); simulated each time, never cached."""
    path = settings.data_dir / "delta_w" / REAL_DELTA_BASE / "delta_w.npy"
    try:
        delta = np.load(path)
    except OSError:
        raise AppError(409, "source: the real ΔW is not built on this server yet; an administrator runs "
                            "`course-lab base build` (or `course-lab base delta-w`).") from None
    result = lora_rank.simulate(params, real=delta)
    return SimulationRun.of(lora_rank, params, result)


def is_real(name: str, params) -> bool:
    return name == lora_rank.NAME and params.source == "real"


def _plain_run(request: Request, name: str, query: dict[str, str]) -> SimulationRun:
    params = parse_query(name, query)
    if is_real(name, params):
        return real_delta_run(params, request.app.state.settings)
    return run_simulation(name, query)


def with_measurement(run: SimulationRun, measurement: Measurement) -> SimulationRun:
    """A copy of the run with the measurement drawn in and told in the headline (never put in the cache)."""
    module, measured = run.module, measurement.measured
    if measured is not None and hasattr(module, "params_for_run"):  # the measurement sets some parameters
        run = RUNS.compute(run.name, module.params_for_run(run.params, measured))
    figure = figure_to_json(module.figure(run.result, measured)) if measured is not None else run.figure_json
    headline = module.headline(run.result, measured) if measured is not None else run.headline
    if measurement.note:
        headline = f"{headline} {measurement.note}"
    return dataclasses.replace(run, figure_json=figure, headline=headline, measured=measured,
                               reference=(measurement.kind, measurement.ref))


def simulation_for_page(request: Request, name: str, query: dict[str, str]) -> SimulationRun:
    """The simulation at `query`, with the caller's measurement when the query names one (sync: pages)."""
    query, reference = split_reference(name, query)
    run = _plain_run(request, name, query)
    if reference is None:
        return run
    visitor = current_visitor(request)
    return with_measurement(run, measure(name, *reference, request.app.state.sessions, visitor.learner_ids))


async def simulation_for_request(request: Request, name: str, query: dict[str, str]) -> SimulationRun:
    """As `simulation_for_page`, for async handlers: the database and the files are read in the thread pool."""
    query, reference = split_reference(name, query)
    if is_real(name, parse_query(name, query)):
        run = await run_in_threadpool(_plain_run, request, name, query)
    else:
        run = await run_simulation_async(name, query)
    if reference is None:
        return run

    def measured() -> SimulationRun:
        visitor = current_visitor(request)
        return with_measurement(run, measure(name, *reference, request.app.state.sessions, visitor.learner_ids))

    return await run_in_threadpool(measured)
