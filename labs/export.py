"""Exports of a finished run: the adapter, a merged model, and an Axolotl YAML or TRL script that reproduce it.

Merging reloads the base in full precision, applies the adapter and calls `merge_and_unload`: merging into the
4-bit base would round the merged weights back to 4 bits and lose most of the adapter's small update.
Not the place for training or evaluation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from labs import LabError

FORMATS = ("adapter", "merged", "axolotl", "trl")


def _run_config(run_dir: Path):
    from labs.config import load_config

    if not (run_dir / "adapter" / "adapter_config.json").exists():
        raise LabError(f"{run_dir} has no trained adapter (adapter/adapter_config.json); run `course-lab train` first")
    return load_config(run_dir / "config.yaml")


def export(run_dir: Path, fmt: str, out: Path | None = None) -> Path:
    run_dir = Path(run_dir)
    if fmt not in FORMATS:
        raise LabError(f"format should be one of {', '.join(FORMATS)}, got {fmt!r}")
    cfg = _run_config(run_dir)
    out = Path(out) if out is not None else run_dir / "export" / fmt
    return {"adapter": export_adapter, "merged": export_merged, "axolotl": export_axolotl,
            "trl": export_trl}[fmt](run_dir, cfg, out)


def export_adapter(run_dir: Path, cfg, out: Path) -> Path:
    """adapter_model.safetensors + adapter_config.json (+ the tokenizer): load with PeftModel.from_pretrained."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(run_dir / "adapter", out)
    # Training wrote this server's base folder into the config and PEFT's model card: name the base portably.
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text())
    server_base, config["base_model_name_or_path"] = config["base_model_name_or_path"], _base_for_export(cfg)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True))
    card = out / "README.md"
    if card.exists() and server_base:
        card.write_text(card.read_text().replace(server_base, config["base_model_name_or_path"]))
    return out


def load_full_precision_with_adapter(run_dir: Path, cfg, device: str = "cpu"):
    """The base in float32 (no quantization) with the run's adapter applied but not merged."""
    import torch

    from labs.quant import import_bitsandbytes, quiet_transformers

    import_bitsandbytes()  # before peft, which imports it
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labs.base import resolve_base

    quiet_transformers()
    base = resolve_base(cfg.base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, device_map={"": device})
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "adapter")
    return PeftModel.from_pretrained(model, str(run_dir / "adapter")), tokenizer


def export_merged(run_dir: Path, cfg, out: Path) -> Path:
    """W' = W + (alpha/r) B A folded into every adapted layer; saved as an ordinary Hugging Face model."""
    model, tokenizer = load_full_precision_with_adapter(run_dir, cfg)
    merged = model.merge_and_unload()
    shutil.rmtree(out, ignore_errors=True)
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "merge.json").write_text(json.dumps({
        "base": _base_for_export(cfg), "adapter": "adapter/ in the run directory", "dtype": "float32",
        "note": "merged into the full-precision base; quantize again for serving if needed"}, indent=2))
    return out


def _base_for_export(cfg) -> str:
    """The base as another machine can name it: a course base's folder name under the models dir, a local
    folder's own name, or the hub id; never this server's absolute path (an export is downloaded elsewhere)."""
    from labs.base import resolve_base

    resolved = resolve_base(cfg.base, build_missing=False)
    local = Path(resolved)
    if not local.is_absolute() and not local.exists():
        return resolved  # a hub id
    return local.name


def export_axolotl(run_dir: Path, cfg, out: Path) -> Path:
    """An Axolotl config (chapter 4, path 3) with the run's settings and its exact training data."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / "train.jsonl", out / "train.jsonl")
    quantized = cfg.quantization != "none"
    config = {
        "base_model": f"./{_base_for_export(cfg)}",
        "model_type": "AutoModelForCausalLM",
        "load_in_4bit": quantized,
        "adapter": "qlora" if quantized else "lora",
        **({"bnb_config_kwargs": {"bnb_4bit_quant_type": cfg.quantization,
                                  "bnb_4bit_use_double_quant": cfg.double_quant}} if quantized else {}),
        "lora_r": cfg.lora.r,
        "lora_alpha": cfg.lora.alpha,
        "lora_dropout": cfg.lora.dropout,
        "lora_target_modules": list(cfg.lora.target_modules),
        "datasets": [{"path": "train.jsonl", "type": "chat_template", "field_messages": "messages",
                      "roles_to_train": ["assistant"]}],
        "chat_template": "tokenizer_default",
        "train_on_inputs": False,
        "sequence_len": cfg.max_seq_len,
        "sample_packing": False,
        "micro_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "max_steps": cfg.steps,
        "learning_rate": cfg.lr,
        "lr_scheduler": cfg.schedule,
        "warmup_steps": cfg.warmup_steps,
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": 1.0,
        "optimizer": "adamw_torch",
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "bf16": "auto",
        "seed": cfg.seed,
        "output_dir": "./output",
        "save_safetensors": True,
    }
    header = (f"# Axolotl config reproducing course-lab run {run_dir.name} (recipe {cfg.name}).\n"
              f"# base_model: copy the course's base folder (models/{_base_for_export(cfg)} in its data dir) beside\n"
              "# this file, or point base_model at your own base.\n"
              "# Run: accelerate launch -m axolotl.cli.train config.yaml\n")
    (out / "config.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False))
    return out / "config.yaml"


TRL_SCRIPT = '''"""TRL SFTTrainer script reproducing course-lab run {run_name} (recipe {recipe}).

Run: python train_trl.py [--base PATH_OR_HUB_ID] [--max-steps N]. The default base is looked up in the course's
models folder ($COURSE_DATA_DIR/models, ./data/models by default), else taken as a folder or hub id. Needs torch, transformers, peft, trl, datasets
and (for 4-bit) bitsandbytes. Data: train.jsonl beside this file, the run's exact training examples.
"""

import argparse
import json
import os
from pathlib import Path

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer

HERE = Path(__file__).parent
parser = argparse.ArgumentParser()
parser.add_argument("--base", default={base!r})
parser.add_argument("--max-steps", type=int, default={steps})
parser.add_argument("--output-dir", default=str(HERE / "output"))
args = parser.parse_args()
course_base = Path(os.environ.get("COURSE_DATA_DIR", "data")) / "models" / args.base
base = str(course_base) if (course_base / "config.json").exists() else args.base

device = "cuda" if torch.cuda.is_available() else "cpu"
dtype = torch.bfloat16 if device == "cuda" else torch.float32
quantization = {quantization!r}
kwargs = {{"dtype": dtype, "device_map": {{"": device}}}}
if quantization != "none":
    kwargs["quantization_config"] = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=quantization,
        bnb_4bit_use_double_quant={double_quant!r}, bnb_4bit_compute_dtype=dtype)
model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
# bitsandbytes 0.50 on CPUs with AVX512-BF16 repacks 4-bit weights on the first no-grad forward, after which
# training and merging go wrong; keep the portable layout.
for module in model.modules():
    if getattr(module, "support_avx512bf16_for_cpu", False):
        module.support_avx512bf16_for_cpu = False
tokenizer = AutoTokenizer.from_pretrained(base)
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token

rows = [json.loads(line) for line in open(HERE / "train.jsonl", encoding="utf-8") if line.strip()]
# prompt-completion: the loss covers only the last (assistant) turn
dataset = Dataset.from_list([{{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]}} for r in rows])

config = {sft!r}
config.update(output_dir=args.output_dir, max_steps=args.max_steps, use_cpu=device == "cpu", bf16=device == "cuda")
trainer = SFTTrainer(
    model=model,
    args=SFTConfig(**config),
    train_dataset=dataset,
    processing_class=tokenizer,
    peft_config=LoraConfig(r={r}, lora_alpha={alpha}, lora_dropout={dropout}, target_modules={targets!r},
                           bias="none", task_type="CAUSAL_LM"),
)
trainer.train()
trainer.save_model(args.output_dir)
print("adapter saved to", args.output_dir)
'''


def export_trl(run_dir: Path, cfg, out: Path) -> Path:
    """A standalone SFTTrainer script with the same settings as `--engine trl`, and the training data."""
    from labs.train_trl import sft_config_kwargs

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / "train.jsonl", out / "train.jsonl")
    sft = sft_config_kwargs(cfg, "output", "cpu")
    for key in ("output_dir", "max_steps", "use_cpu", "bf16"):  # set by the script at run time
        sft.pop(key)
    script = TRL_SCRIPT.format(run_name=run_dir.name, recipe=cfg.name, base=_base_for_export(cfg), steps=cfg.steps,
                               quantization=cfg.quantization, double_quant=cfg.double_quant, sft=sft, r=cfg.lora.r,
                               alpha=cfg.lora.alpha, dropout=cfg.lora.dropout, targets=list(cfg.lora.target_modules))
    (out / "train_trl.py").write_text(script)
    return out / "train_trl.py"
