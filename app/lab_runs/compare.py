"""Chapter 5's comparison: the learner's latest run of the plain legal-format recipe beside their latest run of
legal-format-mixed (general exchanges mixed in), on compliance, relevance and format leakage.

Until a learner has both, the missing side shows the course's own reference run, labelled as such: the numbers
measured by benchmarks/measured/run_bench.py (see its results.json; the tiny base, seed 0).
"""

import json

from app.lab_runs import store

RECIPES = ("legal-format", "legal-format-mixed")
# benchmarks/measured/results.json, 2026-12-01: the reference runs of both recipes on the tiny base.
REFERENCE = {
    "legal-format": {"compliance_before": 0.0, "compliance_after": 0.98, "relevance_before": 0.12,
                     "relevance_after": 0.16, "format_leak_before": 0.0, "format_leak_after": 1.0},
    "legal-format-mixed": {"compliance_before": 0.0, "compliance_after": 1.0, "relevance_before": 0.12,
                           "relevance_after": 0.2, "format_leak_before": 0.0, "format_leak_after": 1 / 12},
}


def _figures(metrics: dict) -> dict:
    regression = metrics.get("regression") or {}
    return {key: metrics.get(key) for key in ("compliance_before", "compliance_after", "relevance_before",
                                              "relevance_after")} | {
        "format_leak_before": regression.get("format_leak_before"),
        "format_leak_after": regression.get("format_leak_after")}


def comparison(sessions, owners) -> list[dict]:
    """One column per recipe: the learner's latest finished run of it, or the course's reference run."""
    finished = [r for r in store.list_runs(sessions, owners) if r.status == "succeeded" and r.sweep_id is None]
    columns = []
    for recipe in RECIPES:
        run = next((r for r in finished if r.recipe == recipe and r.metrics), None)
        if run is not None:
            columns.append({"recipe": recipe, "yours": True, "url": f"/labs/runs/{run.id}",
                            **_figures(json.loads(run.metrics))})
        else:
            columns.append({"recipe": recipe, "yours": False, "url": None, **REFERENCE[recipe]})
    return columns
