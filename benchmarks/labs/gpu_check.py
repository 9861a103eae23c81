"""Helpers for benchmarks/gpu_check.sh: build the randomly initialised models, then summarise the runs.

    python3 benchmarks/labs/gpu_check.py models DIR [NAME]   # smollm2-135m-random, llama-3.2-1b-random in DIR
    python3 benchmarks/labs/gpu_check.py summary RUNS OUT    # gpu_check.json and gpu_check.md in OUT
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = Path(os.environ.get("GPU_ASSETS", ROOT / ".gpu_assets" / "smollm2"))  # SmolLM2's config and tokenizer

# Llama-3.2-1B's published shape: 16 layers, hidden 2048, GQA 32 query / 8 key-value heads, SwiGLU 8192, vocab 128256
LLAMA_1B = dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
                rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=True)


def build_models(out: Path, only: str | None = None) -> None:
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    tokenizer = AutoTokenizer.from_pretrained(ASSETS)
    smol = AutoConfig.from_pretrained(ASSETS)
    llama = LlamaConfig(**LLAMA_1B, bos_token_id=smol.bos_token_id, eos_token_id=smol.eos_token_id,
                        pad_token_id=smol.pad_token_id)
    for name, config in (("smollm2-135m-random", smol), ("llama-3.2-1b-random", llama)):
        if only is not None and name != only:
            continue
        torch.manual_seed(0)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        folder = out / name
        shutil.rmtree(folder, ignore_errors=True)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)  # token ids < 49152 fit both vocabularies
        n = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n / 1e6:.1f}M parameters -> {folder}")
        del model


def summary(runs: Path, out: Path) -> None:
    rows = []
    for run in sorted(runs.iterdir()):
        metrics_path = run / "metrics.json"
        if not metrics_path.exists():
            rows.append({"run": run.name, "failed": True})
            continue
        m = json.loads(metrics_path.read_text())
        rows.append({"run": run.name, "engine": m["engine"], "device": m["device"], "steps": m["steps"],
                     "train_duration_s": m["train_duration_s"],
                     "steps_per_s": round(m["steps"] / m["train_duration_s"], 3),
                     "tokens_per_s": m["tokens_per_s"], "peak_memory_mb": m["peak_memory_mb"],
                     "quantized_layers": m["quantized_layers"], "total_params": m["total_params"],
                     "duration_s": m["duration_s"], "versions": m["versions"]})
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(rows, indent=2))
    lines = ["| run | engine | steps/s | tokens/s | peak GPU memory (MB) | train s | wall s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("failed"):
            lines.append(f"| {r['run']} | failed | | | | | |")
        else:
            lines.append(f"| {r['run']} | {r['engine']} | {r['steps_per_s']} | {r['tokens_per_s']:.0f} | "
                         f"{r['peak_memory_mb']:.0f} | {r['train_duration_s']} | {r['duration_s']} |")
    text = "\n".join(lines) + "\n"
    (out / "gpu_check.md").write_text(text)
    print(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["models"]:
        build_models(Path(sys.argv[2]), only=sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1:2] == ["summary"]:
        summary(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
