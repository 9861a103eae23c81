"""Tests for the chapter 1 cost crossover: the crossover day follows the closed form, is reported beyond
the horizon or as never, and agrees with the chapter 7 break-even calculation.
"""

import numpy as np
import pytest

from simulations import break_even, cost_crossover


def test_crossover_day_matches_the_closed_form_on_random_inputs():
    rng = np.random.default_rng(11)
    for _ in range(200):
        p = cost_crossover.Params(
            daily_requests=int(rng.integers(10, 1_000_000)), system_prompt_tokens=int(rng.integers(0, 5000)),
            request_tokens=int(rng.integers(0, 1000)), finetuned_prompt_tokens=int(rng.integers(0, 500)),
            base_price_per_mtok=float(rng.uniform(0.1, 20)), finetuned_price_per_mtok=float(rng.uniform(0.1, 20)),
            training_cost_usd=float(rng.uniform(0, 10_000)), horizon_days=int(rng.integers(1, 730)))
        result = cost_crossover.simulate(p)
        prompting = p.daily_requests * (p.system_prompt_tokens + p.request_tokens) * p.base_price_per_mtok / 1e6
        finetuned = p.daily_requests * (p.finetuned_prompt_tokens + p.request_tokens) * p.finetuned_price_per_mtok / 1e6
        if prompting > finetuned:
            day = p.training_cost_usd / (prompting - finetuned)
            assert result.crossover_day == pytest.approx(day)
            assert result.status == ("within-horizon" if day <= p.horizon_days else "beyond-horizon")
        else:
            assert result.crossover_day is None and result.status == "never"


def test_cumulative_lines_meet_on_the_crossover_day():
    result = cost_crossover.simulate(cost_crossover.Params())
    day = result.crossover_day
    assert result.status == "within-horizon"
    assert np.interp(day, result.days, result.prompting_cumulative) == pytest.approx(
        np.interp(day, result.days, result.finetuned_cumulative))


def test_never_when_the_prompt_is_already_as_short_as_the_fine_tuned_one():
    params = cost_crossover.Params(system_prompt_tokens=50, finetuned_price_per_mtok=5.0)
    result = cost_crossover.simulate(params)
    assert result.status == "never" and result.crossover_day is None
    assert "never" in cost_crossover.headline(result)


def test_low_volume_crosses_beyond_the_horizon_and_says_so():
    result = cost_crossover.simulate(cost_crossover.Params(daily_requests=100))
    assert result.status == "beyond-horizon" and result.crossover_day > result.horizon_days
    assert "beyond your 90-day horizon" in cost_crossover.headline(result)


def test_more_volume_and_longer_prompts_bring_the_crossover_earlier():
    days = [cost_crossover.simulate(cost_crossover.Params(daily_requests=n)).crossover_day for n in (100, 1000, 10_000)]
    assert days == sorted(days, reverse=True)
    days = [cost_crossover.simulate(cost_crossover.Params(system_prompt_tokens=t)).crossover_day
            for t in (200, 500, 2000)]
    assert days == sorted(days, reverse=True)


def test_crossover_agrees_with_the_break_even_calculator():
    p = cost_crossover.Params()
    same = break_even.Params(training_cost_usd=p.training_cost_usd, prompt_overhead_tokens=p.system_prompt_tokens,
                             request_tokens=p.request_tokens, base_price_per_mtok=p.base_price_per_mtok,
                             finetuned_prompt_tokens=p.finetuned_prompt_tokens,
                             finetuned_price_per_mtok=p.finetuned_price_per_mtok, requests_per_day=p.daily_requests)
    assert cost_crossover.simulate(p).crossover_day == pytest.approx(break_even.simulate(same).break_even_days)


@pytest.mark.parametrize("values", [
    {"daily_requests": 10, "horizon_days": 1},
    {"daily_requests": 10_000_000, "system_prompt_tokens": 20_000, "horizon_days": 730},
    {"system_prompt_tokens": 0, "finetuned_price_per_mtok": 100},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(cost_crossover.figure(run(cost_crossover, **values)))
