"""The code samples in the chapters: every Python block compiles, every YAML block parses, the blocks
marked `python runnable` run to completion on CPU in a fresh interpreter, and those marked `notebook` run
in order in one interpreter. A `text output` block right after a runnable block is what it must print.
"""

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.content import load_course
from app.settings import PROJECT_ROOT

COURSE = load_course(PROJECT_ROOT / "chapters")
BLOCKS = [(c, b) for c in COURSE.chapters for b in c.code_blocks]
PYTHON = [(c, b) for c, b in BLOCKS if b.language == "python"]
RUNNABLE = [(c, b) for c, b in PYTHON if "runnable" in b.flags]
STANDALONE = [(c, b) for c, b in RUNNABLE if "notebook" not in b.flags]
NOTEBOOKS = [c for c in COURSE.chapters if any("notebook" in b.flags for b in c.code_blocks)]
YAML = [(c, b) for c, b in BLOCKS if b.language == "yaml"]
DRIVER = Path(__file__).with_name("notebook_driver.py")
# `...` in an expected output stands for any text (a generated reply, a timing); whitespace runs compare equal.
CHECKER, OPTIONS = doctest.OutputChecker(), doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _name(pair) -> str:
    chapter, block = pair
    return f"{chapter.path.name}:{block.line}"


def _expected_output(chapter, block) -> str | None:
    """The `text output` block that directly follows `block` in the chapter, if there is one."""
    blocks = chapter.code_blocks
    following = blocks[blocks.index(block) + 1] if blocks.index(block) + 1 < len(blocks) else None
    if following is not None and following.language == "text" and "output" in following.flags:
        return following.source
    return None


def _assert_prints(name: str, expected: str | None, got: str) -> None:
    if expected is not None and not CHECKER.check_output(expected, got, OPTIONS):
        raise AssertionError(f"{name} printed something other than the text says:\n"
                             f"--- the text says\n{expected}--- it printed\n{got}")


def _offline_env(tmp_path) -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HOME": str(tmp_path),
            "COURSE_DATA_DIR": str(tmp_path / "course-data")}


def test_the_course_has_code_to_run():
    assert len(PYTHON) >= 15 and len(RUNNABLE) >= 5 and len(YAML) >= 1
    assert NOTEBOOKS, "chapter 4's fine-tune in the text is a notebook chain"


def test_every_output_block_follows_a_runnable_block():
    for chapter in COURSE.chapters:
        blocks = chapter.code_blocks
        for before, block in zip(blocks, blocks[1:]):
            if block.language == "text" and "output" in block.flags:
                assert before.language == "python" and "runnable" in before.flags, _name((chapter, block))


@pytest.mark.parametrize("pair", PYTHON, ids=_name)
def test_every_python_block_compiles(pair):
    chapter, block = pair
    compile(block.source, _name(pair), "exec")


@pytest.mark.parametrize("pair", YAML, ids=_name)
def test_every_yaml_block_parses(pair):
    _, block = pair
    assert yaml.safe_load(block.source) is not None


@pytest.mark.parametrize("pair", STANDALONE, ids=_name)
def test_runnable_blocks_run_on_cpu(pair, tmp_path):
    chapter, block = pair
    result = subprocess.run(
        [sys.executable, "-c", block.source], cwd=tmp_path, env=_offline_env(tmp_path), capture_output=True,
        text=True, timeout=300,
    )
    assert result.returncode == 0, f"{_name(pair)} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    _assert_prints(_name(pair), _expected_output(chapter, block), result.stdout)


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda c: c.path.name)
def test_notebook_blocks_run_in_order_and_print_what_the_text_says(chapter, tmp_path, request):
    blocks = [b for b in chapter.code_blocks if b.language == "python" and "notebook" in b.flags]
    assert all("runnable" in b.flags for b in blocks), "a notebook block is also runnable"
    # The base the blocks build is cached between runs, as it is for a learner: build_base rebuilds it when
    # its recipe changes, so a stale cache cannot pass.
    env = {**_offline_env(tmp_path), "COURSE_DATA_DIR": str(request.config.cache.mkdir("chapter-notebooks"))}
    (tmp_path / "blocks.json").write_text(json.dumps(
        [{"name": _name((chapter, b)), "source": b.source} for b in blocks]))
    result = subprocess.run(
        [sys.executable, str(DRIVER), "blocks.json", "outputs.json"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    for block, printed in zip(blocks, outputs, strict=True):
        _assert_prints(_name((chapter, block)), _expected_output(chapter, block), printed)


def test_an_output_block_is_compared_line_by_line_with_ellipsis_for_any_text():
    _assert_prints("demo", "step 10 loss ...\nmerged matches: True\n", "step 10 loss 0.4312\nmerged matches: True\n")
    with pytest.raises(AssertionError, match="printed something other than the text says"):
        _assert_prints("demo", "merged matches: True\n", "merged matches: False\n")
