"""The code samples in the chapters: every Python block compiles, every YAML block parses, and the
blocks marked `python runnable` run to completion on CPU in a fresh interpreter.
"""

import os
import subprocess
import sys

import pytest
import yaml

from app.content import load_course
from app.settings import PROJECT_ROOT

COURSE = load_course(PROJECT_ROOT / "chapters")
BLOCKS = [(c, b) for c in COURSE.chapters for b in c.code_blocks]
PYTHON = [(c, b) for c, b in BLOCKS if b.language == "python"]
RUNNABLE = [(c, b) for c, b in PYTHON if "runnable" in b.flags]
YAML = [(c, b) for c, b in BLOCKS if b.language == "yaml"]


def _name(pair) -> str:
    chapter, block = pair
    return f"{chapter.path.name}:{block.line}"


def test_the_course_has_code_to_run():
    assert len(PYTHON) >= 15 and len(RUNNABLE) >= 5 and len(YAML) >= 1


@pytest.mark.parametrize("pair", PYTHON, ids=_name)
def test_every_python_block_compiles(pair):
    chapter, block = pair
    compile(block.source, _name(pair), "exec")


@pytest.mark.parametrize("pair", YAML, ids=_name)
def test_every_yaml_block_parses(pair):
    _, block = pair
    assert yaml.safe_load(block.source) is not None


@pytest.mark.parametrize("pair", RUNNABLE, ids=_name)
def test_runnable_blocks_run_on_cpu(pair, tmp_path):
    _, block = pair
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", block.source], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{_name(pair)} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
