"""The layer rules of DESIGN.md: the app starts without torch (in a fresh interpreter), the lab engine never
imports the app or a web framework (a source scan), and importing the lab engine changes nothing process-wide."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _modules_after(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(result.stdout.split())


def test_the_app_starts_without_importing_torch_or_the_lab_engine(tmp_path):
    loaded = _modules_after(
        f"from app.settings import Settings\nfrom app.main import create_app\n"
        f"create_app(Settings(data_dir=r'{tmp_path}'))"
    )
    assert "fastapi" in loaded
    assert not {"torch", "transformers", "peft", "bitsandbytes"} & loaded


LABS_DIR = Path(__file__).resolve().parents[1] / "labs"
WEB_PACKAGES = {"app", "fastapi", "starlette", "uvicorn", "sse_starlette"}


def _imported_names(path: Path) -> set[str]:
    """Top-level package names a module imports: import statements and import_module/__import__ of a literal."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value).split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(LABS_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(LABS_DIR)))
def test_the_lab_engine_never_imports_the_app_or_a_web_framework(path):
    assert not _imported_names(path) & WEB_PACKAGES


def test_the_source_scan_sees_every_kind_of_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import app.db\nfrom fastapi import X\nimport importlib\nimportlib.import_module('starlette.x')\n")
    assert _imported_names(probe) >= {"app", "fastapi", "starlette"}


def test_importing_labs_changes_no_process_wide_state():
    code = ("import logging, os, sys, threading\n"
            "env, threads = dict(os.environ), threading.active_count()\n"
            "import labs, labs.config, labs.data, labs.events, labs.runners\n"
            "bnb = logging.getLogger('bitsandbytes.backends.cpu.ops')\n"
            "print(dict(os.environ) == env, threads == threading.active_count(), bnb.filters == [])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                          env={k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"})
    assert done.stdout.split() == ["True", "True", "True"]
