"""What the lab pages and the API show of a run: its public fields, its evaluation, and the lab
widgets that mount into chapters 2, 4 and 5."""

import json
import re
from datetime import UTC
from pathlib import Path

from markupsafe import Markup

from app.content import mount_marker
from app.lab_runs import service, store
from app.lab_runs.compare import comparison
from app.lab_runs.events import read_events
from app.lab_runs.models import ACTIVE, Run


def _duplicated_line(message: str) -> int | None:
    """The line a duplicate issue points back to ("… duplicate of line 4 …"), for side-by-side display."""
    found = re.search(r"of line (\d+)", message or "")
    return int(found.group(1)) if found else None


def install_lab_template_helpers(templates) -> None:
    templates.env.filters["regex_line"] = _duplicated_line


def _iso(moment) -> str | None:
    return moment.replace(tzinfo=moment.tzinfo or UTC).isoformat() if moment else None


def run_public(run: Run, with_metrics: bool = False) -> dict:
    """A run as the API and the pages show it (never the run directory's path)."""
    metrics = json.loads(run.metrics) if run.metrics else None
    duration = None
    if run.started_at and run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds(), 1)
    public = {
        "id": run.id,
        "status": run.status,
        "active": run.status in ACTIVE,
        "recipe": run.recipe,
        "base": run.base,
        "overrides": {k: v for k, v in json.loads(run.overrides).items() if k != "dataset"},
        "dataset": run.dataset_name,
        "reason": run.reason,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": duration,
        "compliance_before": metrics.get("compliance_before") if metrics else None,
        "compliance_after": metrics.get("compliance_after") if metrics else None,
        "url": f"/labs/runs/{run.id}",
        "events_url": f"/api/labs/runs/{run.id}/events",
        "artifacts": {kind: f"/api/labs/runs/{run.id}/artifacts/{kind}" for kind in service.ARTIFACTS},
    }
    if with_metrics:
        public["metrics"] = metrics
    return public


def evaluation_context(run: Run) -> dict:
    """Everything the evaluation view shows; per-prompt rows come from the run's evaluation.json
    when the engine wrote one, else from its `sample` events."""
    details_path = Path(run.run_dir) / "evaluation.json"
    details = json.loads(details_path.read_text()) if details_path.exists() else None
    samples = [event for _, event in read_events(run.run_dir) if event.get("type") == "sample"]
    return {
        "run": run_public(run, with_metrics=True),
        "heldout": (details or {}).get("heldout") or [s for s in samples if not s.get("regression")],
        "regression": (details or {}).get("regression") or [s for s in samples if s.get("regression")],
    }


def mount_labs(templates, request, html: str, settings, sessions, owners: set[str]) -> Markup:
    """Fill a chapter's lab placeholders with their forms (and, for evaluation, the latest run)."""
    html = str(html)
    shared = None  # the recipes and bases (a glob and a stat per file): read once per page, not per widget
    for name in ("data", "training", "evaluation", "sweep", "compare", "serving"):
        marker = mount_marker("lab", name)
        if marker not in html:
            continue
        shared = shared or {"recipes": service.recipes(), "bases": service.bases(settings), "settings": settings}
        context = dict(shared)
        if name == "evaluation":
            finished = [r for r in store.list_runs(sessions, owners) if r.status == "succeeded"]
            context["latest"] = run_public(finished[0]) if finished else None
        if name == "sweep":
            from app.sweeps.views import latest_sweep  # the sweeps domain builds on this one

            context["sweep"] = latest_sweep(sessions, owners)
        if name == "compare":
            context["columns"] = comparison(sessions, owners)
        if name == "serving":
            from app.serving.compare import widget_context  # the serving domain builds on this one

            context |= widget_context(sessions, tuple(owners), settings)
        widget = templates.get_template(f"_lab_{name}.html").render(context, request=request)
        html = html.replace(marker, widget)
    return Markup(html)
