"""Recipes: commented YAML files in labs/recipes/ (or any file) turned into a checked `RunConfig`.

Every field has a type and a range; a bad one is refused with a message that names it, its range and the value
("lora.r should be an integer from 1 to 256, got -3"), and an unknown field is refused by name. Not the place
for defaults' reasoning: that is in the recipe files' comments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from labs import LabError

RECIPES_DIR = Path(__file__).parent / "recipes"
TASKS = ("legal-format",)
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class LoraConfigSpec:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(ALL_LINEAR))


@dataclass
class EvalConfig:
    heldout: int = 50
    max_new_tokens: int = 120
    temperature: float = 0.7
    top_p: float = 0.95
    side_by_side: int = 4
    regression: int = 12
    batch_size: int = 25


@dataclass
class RunConfig:
    name: str = "custom"
    description: str = ""
    base: str = "tiny"
    task: str = "legal-format"
    dataset: str | None = None
    train_examples: int = 200
    general_examples: int = 0
    seed: int = 0
    device: str = "auto"
    quantization: str = "nf4"
    double_quant: bool = True
    compute_dtype: str = "auto"
    lora: LoraConfigSpec = field(default_factory=LoraConfigSpec)
    steps: int = 60
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 2e-3
    schedule: str = "cosine"
    warmup_steps: int = 5
    weight_decay: float = 0.0
    max_seq_len: int = 256
    eval_every: int = 20
    gradient_checkpointing: bool = False
    eval: EvalConfig = field(default_factory=EvalConfig)

    def resolved_dtype(self, device: str) -> str:
        if self.compute_dtype != "auto":
            return self.compute_dtype
        return "bfloat16" if device == "cuda" else "float32"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# (kind, low, high) or (choices,) per field; nested sections use dotted names.
RULES = {
    "name": ("str",), "description": ("str",), "base": ("str",), "task": (TASKS,),
    "dataset": ("path?",), "train_examples": ("int", 0, 100_000),
    "general_examples": ("int", 0, 10_000), "seed": ("int", 0, 2**31 - 1),
    "device": (("auto", "cpu", "cuda"),), "quantization": (("nf4", "fp4", "none"),), "double_quant": ("bool",),
    "compute_dtype": (("auto", "float32", "bfloat16", "float16"),),
    "lora.r": ("int", 1, 256), "lora.alpha": ("int", 1, 1024), "lora.dropout": ("float", 0.0, 0.9),
    "lora.target_modules": ("list[str]",),
    "steps": ("int", 1, 100_000), "batch_size": ("int", 1, 1024), "grad_accum": ("int", 1, 1024),
    "lr": ("float", 1e-7, 1.0), "schedule": (("cosine", "linear", "constant"),), "warmup_steps": ("int", 0, 100_000),
    "weight_decay": ("float", 0.0, 1.0), "max_seq_len": ("int", 16, 32_768), "eval_every": ("int", 1, 100_000),
    "gradient_checkpointing": ("bool",),
    "eval.heldout": ("int", 1, 50), "eval.max_new_tokens": ("int", 1, 4096), "eval.temperature": ("float", 0.01, 5.0),
    "eval.top_p": ("float", 0.01, 1.0), "eval.side_by_side": ("int", 0, 50), "eval.regression": ("int", 0, 24),
    "eval.batch_size": ("int", 1, 512),
}


def _check(name: str, value):
    rule = RULES[name]
    kind = rule[0]
    if isinstance(kind, tuple):
        if value not in kind:
            raise LabError(f"{name} should be one of {', '.join(kind)}, got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise LabError(f"{name} should be a non-empty string, got {value!r}")
        return value
    if kind == "path?":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise LabError(f"{name} should be a file path or null, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise LabError(f"{name} should be true or false, got {value!r}")
        return value
    if kind == "list[str]":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise LabError(f"{name} should be a non-empty list of module names, got {value!r}")
        return value
    low, high = rule[1], rule[2]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise LabError(f"{name} should be an integer from {low} to {high}, got {value!r}")
    else:
        if isinstance(value, str):  # YAML 1.1 reads 2e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise LabError(f"{name} should be a number from {low} to {high}, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LabError(f"{name} should be a number from {low} to {high}, got {value!r}")
        value = float(value)
    if not low <= value <= high:
        what = "an integer" if kind == "int" else "a number"
        raise LabError(f"{name} should be {what} from {low} to {high}, got {value!r}")
    return value


def _build(cls, data: dict, prefix: str = ""):
    if not isinstance(data, dict):
        raise LabError(f"{prefix.rstrip('.') or 'the recipe'} should be a mapping of fields, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise LabError(f"unknown field {prefix}{unknown[0]!s}; known fields: {', '.join(prefix + f for f in fields)}")
    values = {}
    for key, value in data.items():
        if key == "lora":
            values[key] = _build(LoraConfigSpec, value, "lora.")
        elif key == "eval":
            values[key] = _build(EvalConfig, value, "eval.")
        else:
            values[key] = _check(prefix + key, value)
    return cls(**values)


def config_from_dict(data: dict) -> RunConfig:
    cfg = _build(RunConfig, data)
    if cfg.warmup_steps >= cfg.steps and cfg.steps > 1:
        raise LabError(f"warmup_steps should be smaller than steps ({cfg.steps}), got {cfg.warmup_steps}")
    return cfg


def load_yaml(path: Path) -> dict:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LabError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"cannot read config file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise LabError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return {} if data is None else data


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def load_recipe(name: str) -> RunConfig:
    path = RECIPES_DIR / f"{name}.yaml"
    if not path.exists():
        raise LabError(f"unknown recipe {name!r}; available: {', '.join(recipe_names())}")
    return load_config(path)


def load_config(path: Path) -> RunConfig:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise LabError(f"{path} should hold a mapping of fields (name: value), got {type(data).__name__}")
    return config_from_dict(data)


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """`key=value` pairs (`steps=30`, `lora.r=4`), values read as YAML; checked like the file's own fields."""
    import yaml

    data = cfg.to_dict()
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise LabError(f"an override should look like field=value, got {item!r}")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        target = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                raise LabError(f"unknown field {key!r} in override {item!r}")
            target = target[part]
        if parts[-1] not in target:
            raise LabError(f"unknown field {key!r} in override {item!r}")
        target[parts[-1]] = value
    return config_from_dict(data)
