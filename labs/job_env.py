"""The one place that decides what environment a lab job process sees: the data check, the export and
the training run, local or on a Ray cluster. Variables are passed on by allow-list only, so the web
server's secret key, database URL and any tokens in its environment never reach a job.
"""

import os
from collections.abc import Mapping
from pathlib import Path

# Exact names a job may inherit: what Python, torch, BLAS and CUDA need to find things and pick threads.
ALLOWED = frozenset({
    "PATH", "HOME", "USER", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
    "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_HOME", "NVIDIA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM",
    "PYTORCH_CUDA_ALLOC_CONF", "BNB_CUDA_VERSION", "HF_HOME", "XDG_CACHE_HOME", "COURSE_LAB_DEBUG",
})
ALLOWED_PREFIXES = ("LC_",)
# On a Ray cluster the node's own PATH, HOME and libraries apply; only what shapes the job travels.
MACHINE_SPECIFIC = frozenset({"PATH", "HOME", "USER", "TMPDIR", "TERM", "VIRTUAL_ENV", "LD_LIBRARY_PATH",
                              "CUDA_HOME", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"})


def _allowed(name: str) -> bool:
    return name in ALLOWED or name.startswith(ALLOWED_PREFIXES)


def job_environment(data_dir: Path | str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a lab job that runs on this machine: the allow-listed variables of `environ`
    (the process's own by default), the data dir, and the hub switched off (jobs never download)."""
    source = os.environ if environ is None else environ
    env = {name: value for name, value in source.items() if _allowed(name)}
    env.update(COURSE_DATA_DIR=str(Path(data_dir).resolve()), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def remote_job_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The variables worth sending with a job to another machine (Ray `runtime_env.env_vars`): allow-listed
    ones that are not about this machine's own layout."""
    return {name: value for name, value in env.items()
            if (_allowed(name) or name in ("COURSE_DATA_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
            and name not in MACHINE_SPECIFIC}
