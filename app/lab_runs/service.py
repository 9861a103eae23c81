"""What the lab endpoints do, apart from HTTP: check a dataset, launch a run within the limits,
and find a run's artifacts. The lab engine runs in subprocesses, so this module never imports torch.
"""

import asyncio
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

import labs
from app.errors import AppError
from app.lab_runs import store
from app.lab_runs.models import ACTIVE, Run
from app.settings import Settings
from labs.job_env import job_environment

RECIPES_DIR = Path(labs.__file__).resolve().parent / "recipes"
SAMPLE_DATASET = Path(labs.__file__).resolve().parent / "samples" / "legal-support-sample.jsonl"
DEFAULT_RECIPE = "legal-format"
CHECK_TIMEOUT_S = 120
CHECK_QUEUE_WAIT_S = 60  # how long a check waits for a free slot before the server says it is busy
_CHECK_SLOTS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()
EXPORT_TIMEOUT_S = 600
ARTIFACTS = {
    # kind → (file inside the run dir, media type, download name)
    "metrics": ("metrics.json", "application/json", "metrics.json"),
    "events": ("events.jsonl", "application/x-ndjson", "events.jsonl"),
    "adapter": ("export/adapter.zip", "application/zip", "adapter.zip"),
    "merged": ("export/merged.zip", "application/zip", "merged-model.zip"),
    "axolotl": ("export/axolotl.zip", "application/zip", "axolotl-config.zip"),  # config.yaml + train.jsonl
    "trl": ("export/trl.zip", "application/zip", "trl-script.zip"),  # the SFTTrainer script + its data
}


class RunCreate(BaseModel):
    """A learner's launch request: the recipe, the base and the few fields worth changing on a CPU."""

    model_config = ConfigDict(extra="forbid")
    recipe: str = Field("legal-format", description="A recipe from labs/recipes.")
    base: str = Field("tiny", description="A base model the server allows.")
    r: int | None = Field(None, ge=1, le=64, description="LoRA rank: capacity of the update.")
    alpha: int | None = Field(None, ge=1, le=256, description="LoRA alpha: the update is scaled by alpha/r.")
    lr: float | None = Field(None, ge=1e-6, le=1e-1, description="Learning rate of the adapter weights.")
    steps: int | None = Field(None, ge=1, le=100_000, description="Optimizer steps.")

    def overrides(self) -> dict:
        pairs = {"lora.r": self.r, "lora.alpha": self.alpha, "lr": self.lr, "steps": self.steps}
        return {key: value for key, value in pairs.items() if value is not None}


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    base: str
    r: int
    alpha: int
    lr: float
    steps: int
    max_seq_len: int


def recipes() -> list[Recipe]:
    """The built-in recipes, read from their YAML (no torch needed); the course's default first.

    Every chapter page with a lab lists them, and parsing the YAML costs milliseconds a file, so each file is
    parsed once per version (its modification time)."""
    found = [_recipe(path, path.stat().st_mtime_ns) for path in sorted(RECIPES_DIR.glob("*.yaml"))]
    return sorted(found, key=lambda recipe: (recipe.name != DEFAULT_RECIPE, recipe.name))


@functools.cache
def _recipe(path: Path, _version: int) -> Recipe:
    data = yaml.safe_load(path.read_text())
    lora = data.get("lora") or {}
    return Recipe(path.stem, data.get("description", ""), data.get("base", "tiny"), int(lora.get("r", 8)),
                  int(lora.get("alpha", 16)), float(data.get("lr", 2e-3)), int(data.get("steps", 60)),
                  int(data.get("max_seq_len", 256)))


@dataclass(frozen=True)
class BaseChoice:
    name: str
    ready: bool  # a named base is built; a folder or hub id is only checked when the run loads it


def bases(settings: Settings) -> list[BaseChoice]:
    choices = []
    for name in (b.strip() for b in settings.lab_bases.split(",") if b.strip()):
        is_named = "/" not in name
        ready = (settings.data_dir / "models" / name / "config.json").exists() if is_named else True
        choices.append(BaseChoice(name, ready))
    return choices


def _check_slots(settings: Settings) -> asyncio.Semaphore:
    """This event loop's semaphore bounding the checks that run at once (a check is a ~1 s subprocess)."""
    loop = asyncio.get_running_loop()
    slots = _CHECK_SLOTS.get(loop)
    if slots is None:
        slots = _CHECK_SLOTS[loop] = asyncio.Semaphore(settings.lab_max_concurrent_checks)
    return slots


async def check_dataset(path: Path, settings: Settings) -> dict:
    """The engine's report on a chat-JSONL file (`course-lab data check --json`).

    An asyncio subprocess, so the event loop serves every other request meanwhile; at most
    `lab_max_concurrent_checks` run at once, and a check that waits too long for a slot gets a 503."""
    slots = _check_slots(settings)
    try:
        await asyncio.wait_for(slots.acquire(), CHECK_QUEUE_WAIT_S)
    except TimeoutError:
        raise AppError(503, "The server is busy checking other files; try again in a minute.",
                       headers={"Retry-After": "30"}) from None
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "labs", "data", "check", "--json", str(path),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=job_environment(settings.data_dir),
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), CHECK_TIMEOUT_S)
        except BaseException:  # timed out, or the client went away: the check must not outlive the request
            process.kill()
            await process.wait()
            raise
    except TimeoutError:
        raise AppError(422, f"file: checking it took longer than {CHECK_TIMEOUT_S} s; send a smaller file.") from None
    finally:
        slots.release()
    if process.returncode not in (0, 1):
        message = stderr.decode("utf-8", "replace").strip().removeprefix("course-lab: error: ")
        raise AppError(422, f"file: {message[-500:] or 'the file could not be checked'}")
    report = json.loads(stdout)
    report["file"] = path.name
    return report


def enforce_upload_size(content_length: str | None, settings: Settings) -> None:
    """Refuse an upload from its Content-Length, before any of its body is read."""
    limit = settings.lab_max_upload_bytes
    if content_length is None or not content_length.isdigit():
        raise AppError(411, "Uploads must say their size (Content-Length); your browser normally does.")
    if int(content_length) > limit + 64_000:  # room for the multipart envelope and the other fields
        raise AppError(413, f"file: the upload is {int(content_length):,} bytes; the limit is {limit:,} bytes.")


def save_upload(upload, settings: Settings, directory: Path) -> Path:
    """Copy an uploaded file into `directory`, refusing it (and leaving nothing) past the size limit."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "dataset.jsonl"
    written = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(64_000):
            written += len(chunk)
            if written > settings.lab_max_upload_bytes:
                out.close()
                path.unlink(missing_ok=True)
                raise AppError(413, f"file: larger than the {settings.lab_max_upload_bytes:,}-byte limit.")
            out.write(chunk)
    if written == 0:
        path.unlink(missing_ok=True)
        raise AppError(422, "file: the upload is empty; choose a chat JSONL file.")
    return path


async def check_upload(upload, settings: Settings) -> dict:
    """Check an uploaded file in a scratch folder that is removed afterwards, whatever happens.
    File copying and reading run in worker threads, the check in a subprocess: the event loop never waits."""
    scratch = Path(tempfile.mkdtemp(prefix="check-", dir=_scratch_root(settings)))
    try:
        path = await run_in_threadpool(save_upload, upload, settings, scratch)
        report = await check_dataset(path, settings)
        report["lines_text"] = await run_in_threadpool(_quoted_lines, path, report)
        report["file"] = upload.filename or "dataset.jsonl"
        return report
    finally:
        await run_in_threadpool(shutil.rmtree, scratch, ignore_errors=True)


async def check_sample(settings: Settings) -> dict:
    """The report on the course's sample set: a realistic file with the usual problems left in."""
    report = await check_dataset(SAMPLE_DATASET, settings)
    report["lines_text"] = await run_in_threadpool(_quoted_lines, SAMPLE_DATASET, report)
    return report


def _scratch_root(settings: Settings) -> Path:
    root = settings.data_dir / "scratch"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _quoted_lines(path: Path, report: dict) -> dict[int, str]:
    """The text of every line an issue points at (and the line it duplicates), for side-by-side display."""
    import re

    wanted = set()
    for issue in report.get("issues", []):
        if issue.get("line"):
            wanted.add(issue["line"])
            wanted.update(int(n) for n in re.findall(r"of line (\d+)", issue.get("message", "")))
    quoted = {}
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            if number in wanted:
                quoted[number] = raw.decode("utf-8", errors="replace").strip()[:2000]
    return quoted


async def launch(
    request: RunCreate, settings: Settings, sessions: sessionmaker[Session], learner: str,
    owners: Collection[str], upload=None, anonymous: bool = False,
) -> Run:
    """Check the limits, then queue the run (with its dataset, when one was uploaded and is usable).
    The database work runs in worker threads and the dataset check in a subprocess, off the event loop."""
    overrides = await run_in_threadpool(check_launch, request, settings, sessions, owners, 1, anonymous)
    run_id = uuid.uuid4().hex
    run_dir = (settings.data_dir / "runs" / run_id).resolve()
    dataset_name = None
    if upload is not None and upload.filename:
        try:
            path = await run_in_threadpool(save_upload, upload, settings, run_dir)
            report = await check_dataset(path, settings)
            if not report.get("usable"):
                first = next((i["message"] for i in report["issues"] if i["severity"] == "error"), "it has errors")
                raise AppError(422, f"file: the dataset is not usable: {first}.")
            if report.get("examples", 0) > settings.lab_max_examples:
                raise AppError(422, f"file: {report['examples']} examples; the limit is {settings.lab_max_examples}.")
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # a refused upload leaves nothing behind
            raise
        dataset_name = upload.filename
        overrides["dataset"] = str(path)
    return await run_in_threadpool(store.create_run, sessions, run_id, learner, request.recipe, request.base,
                                   overrides, run_dir, settings.runner, dataset_name)


def check_launch(request: RunCreate, settings: Settings, sessions: sessionmaker[Session], owners: Collection[str],
                 runs: int = 1, anonymous: bool = False) -> dict:
    """Refuse a launch of `runs` runs (a sweep launches several) that breaks a rule or a limit (recipe, base,
    steps, the owner's and anonymous visitors' quotas, disk); else the overrides every one of its runs gets
    (the learner's fields and the server's caps)."""
    known = {r.name: r for r in recipes()}
    if request.recipe not in known:
        raise AppError(422, f"recipe: {request.recipe!r} is not a recipe; recipes: {', '.join(known)}.")
    allowed = {b.name: b for b in bases(settings)}
    if request.base not in allowed:
        raise AppError(422, f"base: {request.base!r} is not allowed here; allowed: {', '.join(allowed)}.")
    if not allowed[request.base].ready:
        raise AppError(422, f"base: {request.base!r} is not built on this server yet (course-lab base build).")
    steps = request.steps or known[request.recipe].steps
    if steps > settings.lab_max_steps:
        raise AppError(422, f"steps: at most {settings.lab_max_steps} on this server (asked for {steps}).")
    if anonymous and settings.lab_require_account:
        raise AppError(401, "Log in first: on this server lab runs need an account.")
    what = "this run" if runs == 1 else f"these {runs} runs"
    active = store.count_active(sessions, owners)
    if active + runs > settings.lab_max_active_runs_per_owner:
        raise AppError(429, f"You have {active} runs queued or running and {what} would pass the limit of "
                            f"{settings.lab_max_active_runs_per_owner}; wait for some to finish or cancel them.")
    launched = store.count_since(sessions, owners, store.hour_ago())
    if launched + runs > settings.lab_runs_per_hour:
        raise AppError(429, f"You have launched {launched} runs in the last hour and {what} would pass the limit "
                            f"of {settings.lab_runs_per_hour} here.")
    if anonymous and store.count_active_anonymous(sessions) + runs > settings.lab_max_queued_anonymous_runs:
        raise AppError(429, "The lab queue is full for visitors without an account; log in or try again later.",
                       headers={"Retry-After": "60"})
    free_mb = shutil.disk_usage(settings.data_dir).free // 1_000_000
    if free_mb < settings.lab_min_free_disk_mb:
        raise AppError(507, f"The server has {free_mb} MB of disk left; a run needs {settings.lab_min_free_disk_mb} MB.")
    overrides = request.overrides()
    if known[request.recipe].max_seq_len > settings.lab_max_seq_len:
        overrides["max_seq_len"] = settings.lab_max_seq_len
    return overrides


def artifact_path(run: Run, kind: str, settings: Settings) -> Path:
    """The file for an artifact kind, exported on first request (`course-lab export`)."""
    if kind not in ARTIFACTS:
        raise AppError(404, f"There is no artifact {kind!r}; kinds: {', '.join(ARTIFACTS)}.")
    relative, _, _ = ARTIFACTS[kind]
    path = Path(run.run_dir) / relative
    if path.exists():
        return path
    if kind in ("metrics", "events") or run.status != "succeeded":
        raise AppError(404, f"This run has no {kind} yet (status: {run.status}).")
    _export(run, kind, path, settings)
    return path


def _export(run: Run, kind: str, path: Path, settings: Settings) -> None:
    out = Path(run.run_dir) / "export" / kind
    result = subprocess.run(
        [sys.executable, "-m", "labs", "export", "--run-dir", run.run_dir, "--format", kind, "--out", str(out)],
        capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, env=job_environment(settings.data_dir),
    )
    if result.returncode != 0:
        raise AppError(500, f"The {kind} export failed: {result.stderr.strip()[-300:]}")
    shutil.make_archive(str(path.with_suffix("")), "zip", out)


async def delete_run(run: Run, settings: Settings, sessions: sessionmaker[Session], model_client) -> None:
    """Delete a finished run for good: its adapter leaves the model server first (so nobody is answered by a
    model that no longer exists), then its row, then its folder."""
    if run.status in ACTIVE:
        raise AppError(409, f"This run is {run.status}; cancel it first, then delete it.")
    await model_client.unload(run.id)
    await run_in_threadpool(store.delete_run, sessions, run.id)
    run_dir = Path(run.run_dir).resolve()
    if run_dir.parent == (settings.data_dir / "runs").resolve():  # never remove anything outside the runs folder
        await run_in_threadpool(shutil.rmtree, run_dir, ignore_errors=True)
