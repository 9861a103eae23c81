"""Runs a simulation for the web layer: parse the query, simulate, build the figure and its JSON.

Results are cached per parameter set (Params are frozen dataclasses), so the default state every
chapter page shows first is computed once, and a slider that returns to a value costs nothing.
"""

import dataclasses
import json
from functools import lru_cache
from types import ModuleType
from typing import Any

import simulations
from app.errors import AppError
from simulations import result_dict
from simulations.params import ParamError, params_schema, parse_params


@dataclasses.dataclass(frozen=True)
class SimulationRun:
    module: ModuleType
    params: Any
    result: Any
    figure: dict
    headline: str

    @property
    def name(self) -> str:
        return self.module.NAME

    def figure_json(self) -> str:
        # Escape "</" so a label can never close the <script> element that carries the figure.
        return json.dumps(self.figure, separators=(",", ":")).replace("</", "<\\/")

    def as_json(self) -> dict:
        return {"params": result_dict(self.params), "result": result_dict(self.result), "figure": self.figure}


def get_module(name: str) -> ModuleType:
    module = simulations.REGISTRY.get(name)
    if module is None:
        raise AppError(404, f"There is no simulation {name!r}. Simulations: {', '.join(simulations.REGISTRY)}.")
    return module


@lru_cache(maxsize=512)
def _run(name: str, params: Any) -> SimulationRun:
    module = simulations.REGISTRY[name]
    result = module.simulate(params)
    return SimulationRun(module, params, result, module.figure(result), module.headline(result))


def run_simulation(name: str, query: dict[str, str]) -> SimulationRun:
    """Parse `query` into the simulation's Params and run it; a bad value is a 422 naming the field."""
    module = get_module(name)
    try:
        params = parse_params(module.Params, query)
    except ParamError as exc:
        raise AppError(422, exc.message) from exc
    return _run(name, params)


def describe(module: ModuleType) -> dict:
    return {
        "name": module.NAME,
        "chapter": module.CHAPTER,
        "title": module.TITLE,
        "params_schema": params_schema(module.Params),
    }
