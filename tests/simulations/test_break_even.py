"""Tests for the chapter 7 break-even calculator: the closed form on random inputs, the spec's two
worked examples (about 4,400 requests, then about 180,000 once data costs count), and "never".
"""

import numpy as np
import pytest

from simulations import break_even

SPEC_EXAMPLE = dict(prompt_overhead_tokens=2300, request_tokens=0, base_price_per_mtok=5.0,
                    finetuned_prompt_tokens=50, finetuned_price_per_mtok=3.0, training_cost_usd=50.0,
                    data_cost_usd=0.0, requests_per_day=1000)


def _random_params(rng: np.random.Generator) -> break_even.Params:
    return break_even.Params(
        training_cost_usd=float(rng.uniform(0, 5000)), data_cost_usd=float(rng.uniform(0, 5000)),
        prompt_overhead_tokens=int(rng.integers(0, 5000)), request_tokens=int(rng.integers(0, 2000)),
        base_price_per_mtok=float(rng.uniform(0.1, 20)), finetuned_prompt_tokens=int(rng.integers(0, 500)),
        finetuned_price_per_mtok=float(rng.uniform(0.1, 20)), requests_per_day=int(rng.integers(1, 100_000)))


def test_break_even_equals_the_closed_form_on_random_inputs():
    rng = np.random.default_rng(7)
    for _ in range(200):
        p = _random_params(rng)
        result = break_even.simulate(p)
        prompting = (p.prompt_overhead_tokens + p.request_tokens) * p.base_price_per_mtok / 1e6
        finetuned = (p.finetuned_prompt_tokens + p.request_tokens) * p.finetuned_price_per_mtok / 1e6
        assert result.prompting_cost_per_request == pytest.approx(prompting)
        assert result.finetuned_cost_per_request == pytest.approx(finetuned)
        if prompting > finetuned:
            requests = (p.training_cost_usd + p.data_cost_usd) / (prompting - finetuned)
            assert result.break_even_requests == pytest.approx(requests)
            assert result.break_even_days == pytest.approx(requests / p.requests_per_day)
        else:
            assert result.break_even_requests is None and result.break_even_days is None and result.reason


def test_spec_example_breaks_even_after_about_4400_requests_in_4_4_days():
    result = break_even.simulate(break_even.Params(**SPEC_EXAMPLE))
    assert result.prompting_cost_per_request == pytest.approx(0.0115)
    assert result.finetuned_cost_per_request == pytest.approx(0.00015)
    assert result.break_even_requests == pytest.approx(4405, abs=1)
    assert round(result.break_even_days, 1) == 4.4
    assert break_even.headline(result) == "Break-even after 4,405 requests (4.4 days)."


def test_spec_example_with_2000_dollars_of_data_takes_about_180000_requests_or_six_months():
    result = break_even.simulate(break_even.Params(**{**SPEC_EXAMPLE, "data_cost_usd": 2000.0}))
    assert result.upfront_cost == 2050
    assert result.break_even_requests == pytest.approx(180_000, rel=0.01)
    assert 5.5 <= result.break_even_days / 30.4 <= 6.5


@pytest.mark.parametrize("overrides", [
    {"prompt_overhead_tokens": 50, "base_price_per_mtok": 3.0},  # exactly the same cost: nothing to save
    {"prompt_overhead_tokens": 20},  # the prompted request is already cheaper
    {"finetuned_prompt_tokens": 5000},  # the fine-tuned model still needs a long prompt
])
def test_never_breaks_even_when_the_fine_tuned_request_is_not_cheaper(overrides):
    params = break_even.Params(**{**SPEC_EXAMPLE, **overrides})
    result = break_even.simulate(params)
    assert result.break_even_requests is None and result.break_even_days is None
    assert "never" in result.reason and "never breaks even" in break_even.headline(result)


def test_cumulative_costs_cross_at_the_break_even_point():
    result = break_even.simulate(break_even.Params())
    n = result.break_even_requests
    prompting = np.interp(n, result.requests, result.prompting_cumulative)
    finetuned = np.interp(n, result.requests, result.finetuned_cumulative)
    assert prompting == pytest.approx(finetuned)
    assert result.prompting_cumulative[-1] > result.finetuned_cumulative[-1]


@pytest.mark.parametrize("values", [
    {"training_cost_usd": 0, "data_cost_usd": 0},
    {"training_cost_usd": 100000, "data_cost_usd": 100000, "requests_per_day": 1, "prompt_overhead_tokens": 20000},
    {"prompt_overhead_tokens": 0, "finetuned_prompt_tokens": 20000},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(break_even.figure(run(break_even, **values)))
