"""The lab engine: real QLoRA fine-tuning of small causal language models, offline, on CPU or GPU.

Modules, in the order a run uses them: corpus (synthetic text), base (build or import a base model),
data (chat-JSONL checks), config (recipes), quant (4-bit loading), train, evaluate, export, events, cli.
Importing this package is cheap and changes nothing process-wide: torch, transformers, peft and bitsandbytes load
only inside the functions that need them, and threads, log filters and environment defaults are set by the entry
point that runs a lab (`labs.cli.configure_process`), so the web app can import `labs` safely.
"""

import os
from pathlib import Path

__all__ = ["LabError", "data_dir", "models_dir"]


class LabError(Exception):
    """A problem the learner can fix (bad file, bad field, missing model). The CLI prints it without a traceback."""


def data_dir() -> Path:
    """`$COURSE_DATA_DIR`, or `./data` relative to the working directory."""
    return Path(os.environ.get("COURSE_DATA_DIR", "data"))


def models_dir() -> Path:
    return data_dir() / "models"
