"""Shared checks for the simulation tests: a figure spec must be JSON and must pass Plotly's own validation.

Plotly is a test-only dependency; the simulations themselves never import it.
"""

import json

import plotly.graph_objects as go
import pytest

from simulations.params import parse_params


def _check_figure(spec: dict) -> None:
    assert set(spec) == {"data", "layout"}
    json.dumps(spec, allow_nan=False)  # plain Python types only, and no NaN the browser would choke on
    go.Figure(spec)  # raises on any attribute Plotly's schema does not know
    layout = spec["layout"]
    assert layout["autosize"] is True and "width" not in layout
    assert layout["title"]["text"] and "hovermode" in layout


@pytest.fixture
def check_figure():
    """Assert that a figure spec is valid Plotly, JSON-serialisable and responsive."""
    return _check_figure


@pytest.fixture
def run():
    """Parse query-string-like values into a module's Params and simulate: the path every slider move takes."""

    def _run(module, **values):
        return module.simulate(parse_params(module.Params, values))

    return _run
