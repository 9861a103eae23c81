"""The course's simulations: one pure-NumPy module per interactive chart, in chapter order.

Each module has NAME, CHAPTER, TITLE, a frozen `Params` dataclass, `simulate(params) -> Result`,
`figure(result) -> dict` (a plain Plotly spec) and `headline(result) -> str`. This package imports only
NumPy and the standard library; the web app mounts the modules through REGISTRY and `get`.
"""

import dataclasses
import math
from types import ModuleType
from typing import Any

import numpy as np

from simulations import (
    advisor,
    break_even,
    compliance,
    cost_crossover,
    data_balance,
    lora_params,
    lora_rank,
    loss_curve,
    multi_lora,
    vram,
)

REGISTRY: dict[str, ModuleType] = {
    module.NAME: module
    for module in (compliance, cost_crossover, data_balance, lora_rank, lora_params, vram, loss_curve,
                   multi_lora, break_even, advisor)
}


def get(name: str) -> ModuleType:
    """The simulation module called `name` (hyphenated, as in the URL)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown simulation {name!r}; known simulations: {', '.join(REGISTRY)}") from None


def result_dict(result: Any) -> dict[str, Any]:
    """A Result (or Params) as plain JSON-ready Python: arrays become lists, NaN and infinities None."""
    return jsonable(dataclasses.asdict(result))


def jsonable(value: Any) -> Any:
    """Plain JSON-ready Python for nested dicts, lists, arrays and NumPy scalars (NaN and infinities: None)."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or Infinity
    return value
