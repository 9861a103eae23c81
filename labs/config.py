"""Recipes: commented YAML files in labs/recipes/ (or any file) turned into a checked `RunConfig`.

Every field is typed and bounded in a pydantic model; a bad one is refused with a message that names it, its range
and the value ("lora.r should be an integer from 1 to 256, got -3"), built from the same bounds the model checks,
and an unknown field is refused by name. Not the place
for defaults' reasoning: that is in the recipe files' comments.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, field_validator

from labs import LabError

RECIPES_DIR = Path(__file__).parent / "recipes"
TASKS = ("legal-format",)
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

Text = Annotated[str, Field(strict=True, min_length=1, pattern=r"\S")]  # non-empty, not only whitespace
Number = Annotated[float, Field(strict=False)]  # YAML 1.1 reads 2e-3 (no dot) as a string: pydantic parses it


class Section(BaseModel):
    """Unknown fields are refused by name; numbers never arrive as true/false (YAML's `yes`)."""

    model_config = ConfigDict(extra="forbid", validate_default=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value, info):
        annotation = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool) and annotation in (int, float, Number):
            raise ValueError("a number, not true/false")
        return value


class LoraConfigSpec(Section):
    r: StrictInt = Field(8, ge=1, le=256, description="LoRA rank")
    alpha: StrictInt = Field(16, ge=1, le=1024, description="scaling numerator: the update is scaled by alpha/r")
    dropout: Number = Field(0.0, ge=0.0, le=0.9)
    target_modules: list[Text] = Field(default_factory=lambda: list(ALL_LINEAR), min_length=1,
                                       description="names of the Linear layers that get adapters")


class EvalConfig(Section):
    heldout: StrictInt = Field(50, ge=1, le=50, description="held-out prompts scored for compliance")
    max_new_tokens: StrictInt = Field(120, ge=1, le=4096)
    temperature: Number = Field(0.7, ge=0.01, le=5.0, description="for the sampled evaluation")
    top_p: Number = Field(0.95, ge=0.01, le=1.0)
    side_by_side: StrictInt = Field(4, ge=0, le=50, description="base vs fine-tuned samples shown")
    regression: StrictInt = Field(12, ge=0, le=24, description="general prompts checked for format leakage")
    batch_size: StrictInt = Field(25, ge=1, le=512, description="prompts generated together")


class RunConfig(Section):
    name: Text = "custom"
    description: str = Field("", strict=True)
    base: Text = Field("tiny", description="a built base (tiny), smollm2, a local folder or a hub id")
    task: Literal[TASKS] = "legal-format"
    dataset: Text | None = Field(None, description="a chat JSONL file, or null for generated examples")
    train_examples: StrictInt = Field(200, ge=0, le=100_000, description="0: evaluate the base, untrained")
    general_examples: StrictInt = Field(0, ge=0, le=10_000,
                                        description="plain everyday exchanges mixed into the generated data")
    seed: StrictInt = Field(0, ge=0, le=2**31 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    quantization: Literal["nf4", "fp4", "none"] = "nf4"
    double_quant: StrictBool = True
    compute_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    lora: LoraConfigSpec = Field(default_factory=LoraConfigSpec)
    steps: StrictInt = Field(60, ge=1, le=100_000)
    batch_size: StrictInt = Field(8, ge=1, le=1024)
    grad_accum: StrictInt = Field(1, ge=1, le=1024)
    lr: Number = Field(2e-3, ge=1e-7, le=1.0)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: StrictInt = Field(5, ge=0, le=100_000)
    weight_decay: Number = Field(0.0, ge=0.0, le=1.0)
    max_seq_len: StrictInt = Field(256, ge=16, le=32_768)
    eval_every: StrictInt = Field(20, ge=1, le=100_000)
    gradient_checkpointing: StrictBool = False
    eval: EvalConfig = Field(default_factory=EvalConfig)

    def resolved_dtype(self, device: str) -> str:
        if self.compute_dtype != "auto":
            return self.compute_dtype
        return "bfloat16" if device == "cuda" else "float32"

    def to_dict(self) -> dict:
        return self.model_dump()


SECTIONS = {"lora": LoraConfigSpec, "eval": EvalConfig}


def _expected(field) -> str:
    """What a field accepts, in words, read from its type and bounds: the second half of every refusal."""
    annotation = field.annotation
    bounds = {type(m).__name__: m for m in field.metadata}
    low = getattr(bounds.get("Ge"), "ge", None)
    high = getattr(bounds.get("Le"), "le", None)
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return f"an integer from {low} to {high}"
    if annotation is float:
        return f"a number from {low} to {high}"
    if typing.get_origin(annotation) is list:
        return "a non-empty list of module names"
    if type(None) in typing.get_args(annotation):
        return "a file path or null"
    return "a non-empty string"


def _message(error: dict) -> str:
    """One pydantic error as a sentence naming the field, what it accepts and the value it got."""
    loc = [str(part) for part in error["loc"]]
    model, prefix = RunConfig, ""
    if len(loc) > 1 and loc[0] in SECTIONS:
        model, prefix, loc = SECTIONS[loc[0]], loc[0] + ".", loc[1:]
    name = prefix + loc[0]
    if error["type"] == "extra_forbidden":
        return f"unknown field {name}; known fields: {', '.join(prefix + f for f in model.model_fields)}"
    if error["type"] == "model_type":
        return f"{name} should be a mapping of fields, got {error['input']!r}"
    field = model.model_fields[loc[0]]
    value = error["input"]
    if field.annotation is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # 3 for a learning rate reads as 3.0, the number that was checked
    return f"{name} should be {_expected(field)}, got {value!r}"


def config_from_dict(data: dict) -> RunConfig:
    if not isinstance(data, dict):
        raise LabError(f"the recipe should be a mapping of fields, got {data!r}")
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise LabError(_message(exc.errors()[0])) from None
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
    cfg = load_config(path)
    if cfg.dataset is not None and not Path(cfg.dataset).is_absolute():
        # a recipe's own file (labs/samples/...) is found wherever the run starts: the app starts it in its run dir
        cfg = cfg.model_copy(update={"dataset": str((RECIPES_DIR / cfg.dataset).resolve())})
    return cfg


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
