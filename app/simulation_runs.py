"""Runs a simulation for the web layer: parse the query, simulate, build the figure and its JSON.

Runs are cached per parameter set (Params are frozen dataclasses), so the default state every chapter
page shows first is computed once, and a state asked for a second time is kept (a slider that returns to a
value costs nothing from then on; a state asked for once is not kept: `app.admission`). A run keeps its
figure only as JSON (a Plotly spec as Python lists costs 2-4 times its JSON), and its API body once the API
has asked for it, so serving it again is a dictionary lookup; the async handlers serve such hits on the event
loop and send only new parameter sets to the thread pool. The cache is bounded by bytes, not entries: runs
differ 20-fold in size.
"""

import dataclasses
import json
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future
from functools import cached_property, lru_cache
from types import ModuleType
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

import simulations
from app.admission import Doorkeeper
from app.errors import AppError
from simulations import jsonable, result_dict
from simulations.params import ParamError, params_schema, parse_params

# Bytes of runs besides the defaults: a run holds 5-120 kB (lora-rank's most), 35 kB on average, so some
# 480 slider states. Bounded by count (512) and with the figure kept as Python, the cache reached ~35 MB.
CACHED_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class SimulationRun:
    module: ModuleType
    params: Any
    result: Any
    figure_json: str  # the Plotly figure as JSON (see `figure_to_json`)
    headline: str
    measured: Any = None  # the learner's own measurement drawn in (app.simulation_measured); never cached
    reference: tuple[str, str] | None = None  # ("run" | "sweep", id) the measurement came from

    @classmethod
    def of(cls, module: ModuleType, params: Any, result: Any) -> "SimulationRun":
        """The run of `module` for `result`, with its figure and headline."""
        return cls(module, params, result, figure_to_json(module.figure(result)), module.headline(result))

    @property
    def name(self) -> str:
        return self.module.NAME

    @property
    def figure(self) -> dict:
        """The figure as Python, parsed on each call (rare: the JSON is what pages and the API send)."""
        return json.loads(self.figure_json)

    def as_json(self) -> dict:
        result = result_dict(self.result)
        if self.measured is not None:
            result["measured"] = jsonable(self.measured)
        return {"params": result_dict(self.params), "result": result, "figure": self.figure}

    @cached_property
    def api_body(self) -> bytes:
        """`as_json()` serialised once, on the first GET /api/simulations/{name} of this state (see `api_body_async`):
        a slider move only needs the figure, and this costs as much again (up to 7 ms for lora-rank)."""
        return json.dumps(self.as_json(), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()

    @cached_property
    def footprint(self) -> int:
        """Bytes this run holds in the cache: its figure's JSON, its result's fields, and room for its API body,
        counted ahead whether or not it is ever made (the figure again and the result's arrays as JSON: at most
        4.5x their bytes, advisor's small result; 1.0-2.6x for the others)."""
        fields = (getattr(self.result, field.name) for field in dataclasses.fields(self.result))
        result = sum(value.nbytes if isinstance(value, np.ndarray) else sys.getsizeof(value) for value in fields)
        api_body_room = len(self.figure_json) + 3 * result + 1024
        return sys.getsizeof(self.figure_json) + sys.getsizeof(self.result) + result + api_body_room


def figure_to_json(figure: dict) -> str:
    # Escape "</" so a label can never close the <script> element that carries the figure.
    return json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")


def get_module(name: str) -> ModuleType:
    module = simulations.REGISTRY.get(name)
    if module is None:
        raise AppError(404, f"There is no simulation {name!r}. Simulations: {', '.join(simulations.REGISTRY)}.")
    return module


class RunCache:
    """Simulation runs by (name, params), safe to share between threads.

    - Each simulation's default state (what every chapter page shows first) is kept for good; other
      states are the most recently used that fit in `max_bytes` (by `SimulationRun.footprint`), the
      least recent evicted first, so slider drags cannot push the defaults out nor grow the process.
    - Single flight: when many requests miss on the same state at once (a class opening a chapter
      together), one thread simulates and the others wait for its result instead of repeating it.
    - A state is kept from its second miss on (`app.admission`): one asked for once (a slider passing through,
      random parameters) is served and dropped, so it neither pushes out a state asked for again nor churns memory.
    """

    def __init__(self, max_bytes: int = CACHED_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0  # the footprints of the runs in `_recent`
        self._defaults: dict[str, SimulationRun] = {}
        self._recent: OrderedDict[tuple[str, Any], SimulationRun] = OrderedDict()
        self._in_flight: dict[tuple[str, Any], Future] = {}
        self._lock = threading.Lock()
        self._admission = Doorkeeper()

    def _cached(self, name: str, params: Any) -> SimulationRun | None:  # with the lock held
        default = self._defaults.get(name)
        if default is not None and default.params == params:
            return default
        run = self._recent.get((name, params))
        if run is not None:
            self._recent.move_to_end((name, params))
        return run

    def get(self, name: str, params: Any) -> SimulationRun | None:
        with self._lock:
            return self._cached(name, params)

    def compute(self, name: str, params: Any) -> SimulationRun:
        """The run for this state: cached, being simulated by another thread (then waited for), or simulated here."""
        key = (name, params)
        with self._lock:
            run = self._cached(name, params)
            if run is not None:
                return run
            pending = self._in_flight.get(key)
            owner = pending is None
            if owner:
                pending = self._in_flight[key] = Future()
        if not owner:
            return pending.result()
        try:
            run = self._simulate(name, params)
        except BaseException as exc:
            with self._lock:
                del self._in_flight[key]
            pending.set_exception(exc)
            raise
        with self._lock:
            if params == run.module.Params():
                self._defaults[name] = run
            elif run.footprint <= self.max_bytes and self._admission.seen_before(key):
                self._recent[key] = run
                self.bytes += run.footprint
                while self.bytes > self.max_bytes:
                    self.bytes -= self._recent.popitem(last=False)[1].footprint
            del self._in_flight[key]
        pending.set_result(run)
        return run

    @staticmethod
    def _simulate(name: str, params: Any) -> SimulationRun:
        module = simulations.REGISTRY[name]
        return SimulationRun.of(module, params, module.simulate(params))

    def warm_defaults(self) -> None:
        """Simulate every default state (about 0.2 s in all), so no learner waits for the first one."""
        for name, module in simulations.REGISTRY.items():
            self.compute(name, module.Params())

    def clear(self) -> None:
        with self._lock:
            self._defaults.clear()
            self._recent.clear()
            self.bytes = 0
            self._admission.clear()


RUNS = RunCache()


# Parsed queries kept: a slider sends one of a few hundred values per field, so a class repeats the same query
# strings; each is parsed once (coercion and bounds cost ~0.1 ms, the whole slider reply from the caches less).
# Only short queries are remembered: at most 4,096 × ~0.5 kB, whatever a client sends.
PARSED_QUERIES = 4096
CACHED_QUERY_CHARS = 256


def parse_query(name: str, query: dict[str, str]) -> Any:
    """The simulation's Params for `query`; a bad value is a 422 naming the field and its range."""
    items = tuple(sorted(query.items()))
    if sum(len(key) + len(value) for key, value in items) <= CACHED_QUERY_CHARS:
        return _parse_cached(name, items)
    return _parse(name, items)


def _parse(name: str, items: tuple[tuple[str, str], ...]) -> Any:
    module = get_module(name)
    try:
        return parse_params(module.Params, dict(items))
    except ParamError as exc:
        raise AppError(422, exc.message) from exc


_parse_cached = lru_cache(maxsize=PARSED_QUERIES)(_parse)  # errors are raised, never cached


def run_simulation(name: str, query: dict[str, str]) -> SimulationRun:
    """Parse `query` and run the simulation (from the cache when this parameter set ran before)."""
    params = parse_query(name, query)
    return RUNS.get(name, params) or RUNS.compute(name, params)


async def run_simulation_async(name: str, query: dict[str, str]) -> SimulationRun:
    """As `run_simulation`, for async handlers: a cache hit on the event loop, a new run in the thread pool
    (a slider drag can take milliseconds of NumPy that should not hold up other requests)."""
    params = parse_query(name, query)
    return RUNS.get(name, params) or await run_in_threadpool(RUNS.compute, name, params)


async def api_body_async(run: SimulationRun) -> bytes:
    """The run's API body: made in the thread pool the first time (milliseconds of JSON for the biggest runs),
    then a lookup on the event loop."""
    return run.__dict__.get("api_body") or await run_in_threadpool(getattr, run, "api_body")


def describe(module: ModuleType) -> dict:
    return {
        "name": module.NAME,
        "chapter": module.CHAPTER,
        "title": module.TITLE,
        "params_schema": params_schema(module.Params),
    }
