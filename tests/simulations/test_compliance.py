"""Tests for the chapter 0 compliance model: prompting plateaus below 100%, fine-tuning keeps improving
with examples, and the defaults tell the spec's legal-firm story (about 92% with prompting).
"""

import itertools

import numpy as np
import pytest

from simulations import compliance

SETTINGS = list(itertools.product(range(1, 6), compliance.STRICTNESS_RULES))


@pytest.mark.parametrize("complexity, strictness", SETTINGS)
def test_fine_tuning_compliance_never_decreases_with_more_examples(run, complexity, strictness):
    result = run(compliance, prompt_complexity=complexity, strictness=strictness)
    assert np.all(np.diff(result.fine_tuned) >= 0)


@pytest.mark.parametrize("complexity, strictness", SETTINGS)
def test_prompting_stays_below_100_percent(run, complexity, strictness):
    result = run(compliance, prompt_complexity=complexity, strictness=strictness)
    assert result.prompting.max() < 1 and result.prompting_plateau < 1


def test_prompting_plateaus_at_92_percent_for_the_legal_format():
    result = compliance.simulate(compliance.Params())
    assert result.prompting_plateau == pytest.approx(0.92)
    # Plateau: the last 900 examples add less than a tenth of a point.
    assert result.prompting[-1] - result.prompting[result.examples == 100][0] < 0.001


def test_fine_tuning_overtakes_prompting_and_passes_95_percent_with_a_few_hundred_examples():
    result = compliance.simulate(compliance.Params())
    assert result.fine_tuned[-1] > result.prompting[-1]
    assert 50 <= result.examples_to_target <= 200  # the spec's 50-200 examples for format and style


def test_more_complex_queries_lower_prompting_compliance():
    plateaus = [compliance.simulate(compliance.Params(prompt_complexity=c)).prompting_plateau for c in range(1, 6)]
    assert plateaus == sorted(plateaus, reverse=True)


def test_stricter_tasks_comply_less_under_prompting():
    plateaus = [compliance.simulate(compliance.Params(strictness=s)).prompting_plateau
                for s in ("loose", "moderate", "strict")]
    assert plateaus == sorted(plateaus, reverse=True)


def test_uncertainty_bands_contain_the_curves():
    result = compliance.simulate(compliance.Params(prompt_complexity=5))
    assert np.all(result.prompting_low <= result.prompting) and np.all(result.prompting <= result.prompting_high)
    assert np.all(result.fine_tuned_low <= result.fine_tuned) and np.all(result.fine_tuned <= result.fine_tuned_high)
    assert result.fine_tuned_high.max() <= 1


@pytest.mark.parametrize("examples", [0, 150, 333, 1000])
def test_the_marked_examples_value_lies_on_the_curves(run, examples):
    result = run(compliance, examples=str(examples))
    assert result.current_fine_tuned == pytest.approx(np.interp(examples, result.examples, result.fine_tuned), abs=1e-3)


@pytest.mark.parametrize("values", [
    {"examples": 0, "prompt_complexity": 5, "strictness": "strict"},
    {"examples": 1000, "prompt_complexity": 1, "strictness": "loose"},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(compliance.figure(run(compliance, **values)))
