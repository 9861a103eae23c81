"""The labs on the cohort dashboard: runs per learner with their best compliance and relevance, the cohort's
sweep points as a chart, in the JSON, the page and the CSV."""

import csv
import io
import re

from app import dashboard

from tests.app.sweeps.conftest import sweep_app, wait_for_sweep  # noqa: F401  (the stand-in sweep app)
from tests.clients import CourseClient, People


def test_the_dashboard_shows_each_learners_runs_best_results_and_the_cohorts_sweeps(
    sweep_app, monkeypatch  # noqa: F811
):
    # The page is viewed before and after the sweeps, which may finish within the 1.5 s the dashboard page's
    # figures are shared (app.dashboard_cache, tested in tests/app/test_dashboard_cache.py): this test is about
    # what the page shows, so every view builds its figures afresh.
    monkeypatch.setattr(sweep_app.state.dashboards, "ttl_s", 0.0)
    with CourseClient(sweep_app):  # the app's lifespan, and with it the run scheduler, lasts for the test
        _check_dashboard(People(sweep_app), monkeypatch)


def _lab_table_names(html: str) -> list[str]:
    table = html.split('id="lab-runs-title"')[1].split("</table>")[0]
    return re.findall(r'<tr><th scope="row">([^<]+)</th>', table)


def _check_dashboard(people, monkeypatch):
    instructor = people.instructor("Grace")
    cohort = instructor.post("/api/cohorts", json={"name": "Lab cohort"}).json()
    ada, bob = people.learner("Ada"), people.learner("Bob")
    for learner in (ada, bob):
        assert learner.post("/api/cohorts/join", json={"code": cohort["join_code"]}).status_code == 200
    before = instructor.get(f"/cohorts/{cohort['id']}").text  # no chart yet: no chart code either
    assert "plotly" not in before and "simulations." not in before
    sweep = ada.post("/api/labs/sweeps", json={"examples": [0, 32]}).json()
    wait_for_sweep(ada, sweep["id"])
    outsider = people.learner("Eve")  # not in the cohort: her runs never show
    wait_for_sweep(outsider, outsider.post("/api/labs/sweeps", json={"examples": [64]}).json()["id"])

    labs = instructor.get(f"/api/cohorts/{cohort['id']}/dashboard").json()["labs"]
    rows = {row["display_name"]: row for row in labs["learners"]}
    assert set(rows) == {"Ada", "Bob"}
    assert (rows["Ada"]["runs"], rows["Ada"]["succeeded"], rows["Ada"]["best_compliance"]) == (2, 2, 0.5)
    assert rows["Ada"]["best_relevance"] == 0.9 and rows["Bob"]["runs"] == 0
    # question match: the best of her two runs (0.4 at 0 examples, 0.6 at 32), with that run's chance level
    assert (rows["Ada"]["best_relevance_match"], rows["Ada"]["relevance_chance"]) == (0.6, 0.11)
    assert (rows["Bob"]["best_relevance_match"], rows["Bob"]["relevance_chance"]) == (None, None)
    assert rows["Bob"]["best_compliance"] is None
    assert labs["sweep_points"] == [{"learner": "Ada", "examples": 0, "compliance": 0.0},
                                    {"learner": "Ada", "examples": 32, "compliance": 0.5}]

    page = instructor.get(f"/cohorts/{cohort['id']}").text
    assert 'id="cohort-sweeps-chart"' in page and "Cohort median" in page and "50%" in page
    assert "Best question match (chance)" in page and "60% (11%)" in page
    # The chart is scatter only: the smallest Plotly bundle, by its hashed (immutable) name, as on a chapter.
    assets = people.app.state.assets
    assert f'src="{assets.url("vendor/plotly-basic.min.js")}"' in page and "/static/vendor/plotly.min" not in page
    assert f'src="{assets.url("simulations.js")}"' in page
    exported = instructor.get(f"/api/cohorts/{cohort['id']}/export.csv?table=labs")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["learner"], r["runs"], r["best_compliance"]) for r in table] == [("Ada", "2", "0.5"), ("Bob", "0", "")]
    assert [(r["best_relevance_match"], r["relevance_chance"]) for r in table] == [("0.6", "0.11"), ("", "")]
    assert ada.get(f"/api/cohorts/{cohort['id']}/export.csv?table=labs").status_code == 404
    # A page of one learner: the lab table shows that page's learner, the sweeps chart everyone's points.
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 1)
    first, second = (instructor.get(f"/cohorts/{cohort['id']}?page={n}").text for n in (1, 2))
    assert _lab_table_names(first) == ["Ada"] and _lab_table_names(second) == ["Bob"]
    assert 'id="cohort-sweeps-chart"' in second and "Cohort median" in second
