"""Recipes and config files: every recipe parses, and a bad field is refused with its name, range and value.

Pure Python and YAML; no model involved.
"""

from pathlib import Path

import pytest

from labs import LabError
from labs.config import (RECIPES_DIR, RunConfig, apply_overrides, config_from_dict, load_config, load_recipe,
                         recipe_names)


@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe_parses_into_a_checked_config(name):
    cfg = load_recipe(name)
    assert isinstance(cfg, RunConfig) and cfg.name == name and cfg.description
    assert cfg.warmup_steps < cfg.steps


def test_the_recipes_include_legal_format_and_every_file_has_comments():
    assert "legal-format" in recipe_names()
    for path in RECIPES_DIR.glob("*.yaml"):
        assert sum(line.strip().startswith("#") or " # " in line for line in path.read_text().splitlines()) >= 5


@pytest.mark.parametrize("data, message", [
    ({"lora": {"r": -3}}, "lora.r should be an integer from 1 to 256, got -3"),
    ({"lr": "fast"}, "lr should be a number from 1e-07 to 1.0, got 'fast'"),
    ({"lr": 3}, "lr should be a number from 1e-07 to 1.0, got 3.0"),
    ({"steps": 0}, "steps should be an integer from 1 to 100000, got 0"),
    ({"steps": 2.5}, "steps should be an integer from 1 to 100000, got 2.5"),
    ({"quantization": "int3"}, "quantization should be one of nf4, fp4, none, got 'int3'"),
    ({"double_quant": "yes"}, "double_quant should be true or false, got 'yes'"),
    ({"lora": {"target_modules": []}}, "lora.target_modules should be a non-empty list"),
    ({"eval": {"heldout": 500}}, "eval.heldout should be an integer from 1 to 50, got 500"),
    ({"learning_rate": 0.1}, "unknown field learning_rate"),
    ({"lora": {"rank": 8}}, "unknown field lora.rank"),
    ({"steps": 10, "warmup_steps": 10}, "warmup_steps should be smaller than steps (10), got 10"),
])
def test_a_bad_field_is_refused_with_a_message_naming_it(data, message):
    with pytest.raises(LabError) as err:
        config_from_dict(data)
    assert message in str(err.value)


def test_yaml_reads_2e_3_as_a_string_and_the_config_still_takes_it_as_a_number():
    assert config_from_dict({"lr": "2e-3"}).lr == 0.002


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps: 10\nlora:\n  r: [8\n")
    with pytest.raises(LabError, match=r"bad.yaml is not valid YAML at line \d"):
        load_config(path)


def test_a_missing_config_file_and_an_unknown_recipe_say_so():
    with pytest.raises(LabError, match="config file not found"):
        load_config("/nonexistent/x.yaml")
    with pytest.raises(LabError, match="unknown recipe 'nope'; available: .*legal-format"):
        load_recipe("nope")


def test_overrides_use_dotted_names_and_are_checked_like_the_file():
    cfg = apply_overrides(load_recipe("legal-format"), ["steps=30", "lora.r=4", "eval.heldout=10"])
    assert (cfg.steps, cfg.lora.r, cfg.eval.heldout) == (30, 4, 10)
    with pytest.raises(LabError, match="lora.r should be an integer"):
        apply_overrides(cfg, ["lora.r=0"])
    with pytest.raises(LabError, match="unknown field 'lora.rank'"):
        apply_overrides(cfg, ["lora.rank=4"])
    with pytest.raises(LabError, match="should look like field=value"):
        apply_overrides(cfg, ["steps"])


def test_compute_dtype_auto_is_float32_on_cpu_and_bfloat16_on_cuda():
    cfg = load_recipe("legal-format")
    assert cfg.resolved_dtype("cpu") == "float32" and cfg.resolved_dtype("cuda") == "bfloat16"


def test_a_recipes_relative_dataset_is_found_from_the_recipes_folder_wherever_the_run_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the app starts a run in its run folder, not the repository
    cfg = load_recipe("legal-format-smollm2-cpu")
    path = Path(cfg.dataset)
    assert path.is_absolute() and path == (RECIPES_DIR.parent / "samples" / "legal-format-specific.jsonl").resolve()
    assert path.is_file()
    assert load_recipe("legal-format").dataset is None  # generated data stays generated
