"""Shared fixtures for the lab engine's tests: a private data dir, the small `micro` base, one short QLoRA run.

The base and the run are built once per test session (about 15 s and 10 s on 2 cores) and shared read-only;
tests that need to change a run copy it first.
"""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` run without `python -m` still imports the repository's `labs`
    sys.path.insert(0, str(ROOT))

from labs.cli import configure_process  # noqa: E402

# The tests run the engine in this process, so the session is a lab entry point like `course-lab`: it sets what
# the CLI sets, before any test imports torch (OpenMP reads OMP_WAIT_POLICY when torch loads).
configure_process()

# A run short enough for tests: the micro base, 80 steps, 20 held-out prompts, 4 general ones.
SHORT_RUN = ["base=micro", "steps=80", "warmup_steps=8", "lr=1.0e-2", "eval.heldout=20", "eval.regression=4",
             "eval.side_by_side=2", "eval.max_new_tokens=100"]


@contextmanager
def lab_environment(path: Path):
    """COURSE_DATA_DIR (read by the labs at call time) and no hub access, restored afterwards."""
    with mock.patch.dict(os.environ, {"COURSE_DATA_DIR": str(path), "HF_HUB_OFFLINE": "1"}):
        yield


def training_batch_with_live_lora(model, tokenizer, device):
    """Four held-out examples as one batch, after giving every LoRA B random values: with B at zero (a fresh
    adapter) A would get no gradient, so a comparison of gradients would not cover it."""
    import torch

    from labs.batching import collate, encode
    from labs.evaluate import heldout_examples

    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    rows = [encode(tokenizer, ex["messages"], 256) for ex in heldout_examples("legal-format", 4, seed=3)]
    return collate(rows, tokenizer.pad_token_id, device)


@pytest.fixture(scope="session")
def lab_data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("course-data")


@pytest.fixture(autouse=True)
def _lab_environment(lab_data_dir):
    """Every test here sees the session's data dir; tests elsewhere never do."""
    with lab_environment(lab_data_dir):
        yield


@pytest.fixture(scope="session")
def micro_base(lab_data_dir):
    from labs.base import build_base

    with lab_environment(lab_data_dir):
        return build_base("micro", show_progress=False)


@pytest.fixture(scope="session")
def short_run_config(micro_base):
    from labs.config import apply_overrides, load_recipe

    return apply_overrides(load_recipe("legal-format"), SHORT_RUN)


@pytest.fixture(scope="session")
def short_run(short_run_config, lab_data_dir, tmp_path_factory):
    """(run_dir, metrics) of one real QLoRA run on the micro base."""
    from labs.train import run

    run_dir = tmp_path_factory.mktemp("run") / "legal"
    with lab_environment(lab_data_dir):
        return run_dir, run(short_run_config, run_dir)


@pytest.fixture(scope="session")
def course_lab():
    """Run `python -m labs ARGS` as a real subprocess, as the web service does; returns CompletedProcess."""
    def run(*args, env_extra=None, timeout=300, cwd=None):
        env = {**os.environ, **(env_extra or {})}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        return subprocess.run([sys.executable, "-m", "labs", *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=cwd or ROOT)

    return run
