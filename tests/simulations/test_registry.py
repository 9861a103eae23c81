"""Tests for the simulations package as a whole: the registry, the module contract every simulation
follows, determinism, JSON, figure validity and size, speed on the slider path, and the import boundary.
"""

import ast
import dataclasses
import json
import pathlib
import subprocess
import sys
import timeit

import pytest

import simulations

MODULES = list(simulations.REGISTRY.values())
IDS = list(simulations.REGISTRY)
PACKAGE_DIR = pathlib.Path(simulations.__file__).parent


def test_registry_lists_the_ten_simulations_in_chapter_order():
    assert IDS == ["compliance", "cost-crossover", "data-balance", "lora-rank", "lora-params", "vram",
                   "loss-curve", "multi-lora", "break-even", "advisor"]
    chapters = [module.CHAPTER for module in MODULES]
    assert chapters == sorted(chapters)


def test_get_returns_the_module_and_names_the_known_ones_otherwise():
    assert simulations.get("vram") is simulations.vram
    with pytest.raises(KeyError, match="cost-crossover"):
        simulations.get("nope")


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_module_follows_the_simulation_contract(module):
    assert module.NAME in simulations.REGISTRY and isinstance(module.CHAPTER, int) and module.TITLE
    for cls in (module.Params, module.Result):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert callable(module.simulate) and callable(module.figure) and callable(module.headline)
    # The docstring is shown to learners as "How this simulation works": several paragraphs.
    assert module.__doc__.count("\n\n") >= 3


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_default_figure_is_valid_plotly_and_json(module, check_figure):
    check_figure(module.figure(module.simulate(module.Params())))


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_figure_traces_stay_small_enough_to_resend_on_every_slider_move(module):
    spec = module.figure(module.simulate(module.Params()))
    for trace in spec["data"]:
        for key in ("x", "y"):
            assert len(trace.get(key, [])) <= 400
    assert len(json.dumps(spec)) < 60_000


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_same_params_give_identical_results(module):
    first = simulations.result_dict(module.simulate(module.Params()))
    second = simulations.result_dict(module.simulate(module.Params()))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_result_dict_is_plain_json(module):
    json.dumps(simulations.result_dict(module.simulate(module.Params())), allow_nan=False)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_headline_is_one_short_sentence(module):
    headline = module.headline(module.simulate(module.Params()))
    assert headline.endswith(".") and len(headline) <= 160
    assert any(character.isdigit() for character in headline)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_default_simulate_and_figure_take_under_5_ms(module):
    params = module.Params()
    module.figure(module.simulate(params))  # warm the caches, as the first page view does
    best = min(timeit.repeat(lambda: module.figure(module.simulate(params)), number=10, repeat=5)) / 10
    assert best < 0.005


def _imported_top_level_names(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.glob("*.py")), ids=lambda path: path.name)
def test_simulation_sources_import_only_numpy_and_the_standard_library(path):
    allowed = set(sys.stdlib_module_names) | {"numpy", "simulations"}
    assert _imported_top_level_names(path) <= allowed


def test_importing_every_simulation_loads_no_web_or_heavy_library():
    code = ("import sys, simulations\n"
            "for module in simulations.REGISTRY.values(): module.figure(module.simulate(module.Params()))\n"
            "print(','.join(sorted(name for name in ('pydantic', 'fastapi', 'plotly', 'torch', 'starlette')"
            " if name in sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE_DIR.parent).stdout.strip()
    assert loaded == ""
