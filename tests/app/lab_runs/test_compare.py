"""Chapter 5's reference runs are the benchmark's measured numbers, not figures typed in by hand."""

import json
from pathlib import Path

import pytest

from app.lab_runs.compare import REFERENCE

RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "measured" / "results.json"


@pytest.mark.parametrize("recipe", sorted(REFERENCE))
def test_the_reference_runs_match_the_committed_benchmark(recipe):
    measured = json.loads(RESULTS.read_text())["recipes"][recipe]
    for key, value in REFERENCE[recipe].items():
        assert value == pytest.approx(measured[key]), key
