"""The layer rules of DESIGN.md, checked in fresh interpreters: the app starts without torch."""

import subprocess
import sys


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
