"""Which models an owner may use through the model server, and their names: the bases this server allows, plus
every succeeded run of the owner's that saved an adapter, as `ft:<base>:<recipe>:<first 8 of the run id>`.

Another owner's run is simply absent, so asking for it by name is indistinguishable from a name that never existed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.lab_runs import store
from app.lab_runs.models import Run
from app.lab_runs.service import bases
from app.settings import Settings


@dataclass(frozen=True)
class ServedModel:
    id: str  # the /v1 model name: a base name ("tiny") or "ft:<base>:<recipe>:<first 8 of run id>"
    base: str
    run_id: str | None
    adapter_path: str | None
    recipe: str | None
    created: int  # unix seconds
    owned_by: str  # "course" for bases, "learner" for adapters
    aliases: tuple[str, ...] = ()  # names the learner gave the run

    @property
    def is_adapter(self) -> bool:
        return self.run_id is not None


def adapter_name(run: Run) -> str:
    return f"ft:{run.base}:{run.recipe}:{run.id[:8]}"


def _base_model(name: str, settings: Settings) -> ServedModel:
    config = settings.data_dir / "models" / name / "config.json"
    created = int(config.stat().st_mtime) if "/" not in name and config.exists() else 0
    return ServedModel(name, name, None, None, None, created, "course")


def _adapter_model(run: Run) -> ServedModel:
    moment = run.finished_at or run.created_at
    return ServedModel(adapter_name(run), run.base, run.id, str(Path(run.run_dir) / "adapter"), run.recipe,
                       int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()) if moment else 0, "learner",
                       (run.served_name,) if run.served_name else ())


def servable_models(sessions: sessionmaker[Session], learner_ids: Sequence[str], settings: Settings) -> list[ServedModel]:
    """The allowed bases that are built here, then the owner's servable adapters, newest first.

    An adapter counts when its run succeeded, its adapter folder exists and its base is still allowed (the
    model server only loads bases the admin allows)."""
    allowed = [choice.name for choice in bases(settings) if choice.ready]
    models = [_base_model(name, settings) for name in allowed]
    for run in store.list_runs(sessions, set(learner_ids)):
        if run.status == "succeeded" and run.base in allowed and (Path(run.run_dir) / "adapter").is_dir():
            models.append(_adapter_model(run))
    return models


def resolve_model(sessions: sessionmaker[Session], learner_ids: Sequence[str], name: str,
                  settings: Settings) -> ServedModel | None:
    """The model called `name` (its id or one of its aliases) among the owner's; None for anything else."""
    for model in servable_models(sessions, learner_ids, settings):
        if name == model.id or name in model.aliases:
            return model
    return None
