"""A real weight update for chapter 3's LoRA-rank simulation: one linear layer of a built base fully fine-tuned on
the legal-format data (every other weight frozen), its ΔW = W_after - W_before saved as `.npy` in the data dir,
and, after each QLoRA run, the adapter's own effective update B·A·(alpha/r) for the same layer beside it.

The web process reads both files with NumPy alone: it never imports torch. Not the place for the rank maths:
that is simulations/lora_rank.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from labs import corpus, data_dir

STEPS = 60  # as legal-format: ~2.4 epochs of its 200 examples at batch 8
LR = 1e-3  # Adam on one full matrix; LoRA's 3e-3 would overshoot without the low-rank constraint
BATCH = 8


def layer_name(num_layers: int) -> str:
    """The attention output of the last block: it writes straight into what the head reads (a square matrix)."""
    return f"model.layers.{num_layers - 1}.self_attn.o_proj"


def artefact_dir(base: str) -> Path:
    return data_dir() / "delta_w" / base


def build_delta_w(base: str = "tiny", force: bool = False, echo=None) -> Path:
    """Fully fine-tune one layer of `base` (cached in DATA_DIR/delta_w/BASE: delta_w.npy and meta.json)."""
    from labs.base import resolve_base

    out = artefact_dir(base)
    path = resolve_base(base, build_missing=False)
    built_from = base_build(path)
    if not force and (out / "delta_w.npy").exists() and _meta(out).get("base_build") == built_from:
        return out  # cached, and taken from the base as it is built now
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labs.batching import batches, collate, encode

    t0, cpu0 = time.time(), time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    name = layer_name(model.config.num_hidden_layers)
    layer = model.get_submodule(name)
    for p in model.parameters():
        p.requires_grad_(False)
    layer.weight.requires_grad_(True)
    before = layer.weight.detach().clone()  # (out, in)
    torch.manual_seed(0)
    rows = [encode(tokenizer, ex["messages"], 256) for ex in corpus.legal_format_examples(200, 0, heldout=50)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    opt = torch.optim.AdamW([layer.weight], lr=LR, weight_decay=0.0)
    stream = batches(rows, BATCH, 0)
    model.train()
    loss = None
    for step in range(1, STEPS + 1):
        loss = model(**collate(next(stream), pad, "cpu")).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if echo and step % 20 == 0:
            echo(f"ΔW of {name}: step {step}/{STEPS}, loss {loss.item():.3f}")
    delta = (layer.weight.detach() - before).numpy().astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "delta_w.npy", delta)
    meta = {"base": base, "layer": name, "shape": list(delta.shape), "steps": STEPS, "lr": LR, "batch_size": BATCH,
            "examples": len(rows), "final_loss": round(float(loss.item()), 4), "seconds": round(time.time() - t0, 1),
            "cpu_seconds": round(time.process_time() - cpu0, 1), "base_build": built_from}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


def base_build(path: str) -> dict | None:
    """What the base folder was built from (its build.json's spec), so a rebuilt base invalidates its ΔW."""
    try:
        return json.loads((Path(path) / "build.json").read_text()).get("spec")
    except (OSError, ValueError):
        return None


def _meta(out: Path) -> dict:
    try:
        return json.loads((out / "meta.json").read_text())
    except (OSError, ValueError):
        return {}


def save_adapter_update(model, run_dir: Path) -> None:
    """B·A·scaling of the adapter on the ΔW layer, as run_dir/adapter_update.npy (skipped if not adapted there)."""
    import numpy as np

    base = model.get_base_model()
    name = layer_name(base.config.num_hidden_layers)
    module = base.get_submodule(name)
    if not hasattr(module, "lora_A") or "default" not in module.lora_A:
        return
    a = module.lora_A["default"].weight.detach().float()  # (r, in)
    b = module.lora_B["default"].weight.detach().float()  # (out, r)
    update = (b @ a * module.scaling["default"]).cpu().numpy().astype(np.float32)  # (out, in), rank <= r
    np.save(Path(run_dir) / "adapter_update.npy", update)
    (Path(run_dir) / "adapter_update.json").write_text(json.dumps({"layer": name, "r": int(a.shape[0])}))

