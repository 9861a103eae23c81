"""Serving fixtures: copies of the short run's really trained adapter under several ids, and a request factory."""

import shutil

import pytest

from labs.serving.requests import GenerateRequest

QUESTION = [{"role": "user", "content": "How do I renew my lease?"}]


@pytest.fixture(scope="session")
def adapter_dirs(short_run, tmp_path_factory):
    """Three adapter folders with the short run's weights: three adapters as far as the engine can tell."""
    run_dir, _ = short_run
    root = tmp_path_factory.mktemp("adapters")
    out = {}
    for name in ("legal-a", "legal-b", "legal-c"):
        shutil.copytree(run_dir / "adapter", root / name)
        out[name] = str(root / name)
    return out


def request(request_id: str, adapter: str | None = None, dirs: dict | None = None, **fields) -> GenerateRequest:
    fields.setdefault("messages", QUESTION)
    fields.setdefault("temperature", 0.0)
    return GenerateRequest(request_id=request_id, base="micro", adapter_id=adapter,
                           adapter_path=dirs[adapter] if adapter else None, **fields)
