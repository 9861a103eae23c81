"""The lab engine: real QLoRA fine-tuning of small causal language models, offline, on CPU or GPU.

Modules, in the order a run uses them: corpus (synthetic text), base (build or import a base model),
data (chat-JSONL checks), config (recipes), quant (4-bit loading), train, evaluate, export, events, cli.
Importing this package is cheap: torch, transformers, peft and bitsandbytes load only inside the functions
that need them, so the web app can import `labs` without them.
"""

import logging
import os
from pathlib import Path

# Classroom machines share their cores. With OpenMP's default busy-waiting, torch's 2 threads on a 2-core machine
# that is also running something else went 2.2x slower (40 pretraining steps: 5.7 s alone, 12.3 s beside one busy
# process); passive waiting kept it at 8.0 s and cost nothing when idle (5.9 s). Read when torch loads OpenMP, so
# it is set here, before any lab command imports torch; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# bitsandbytes warns on import when the optional `kernels` package (fetched from the hub) is absent; its plain
# CPU path works without it, so no lab command shows that warning. Set here, before any command imports it.
logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(lambda record: "kernels" not in record.getMessage())

__all__ = ["LabError", "data_dir", "models_dir"]


class LabError(Exception):
    """A problem the learner can fix (bad file, bad field, missing model). The CLI prints it without a traceback."""


def data_dir() -> Path:
    """`$COURSE_DATA_DIR`, or `./data` relative to the working directory."""
    return Path(os.environ.get("COURSE_DATA_DIR", "data"))


def models_dir() -> Path:
    return data_dir() / "models"
