"""Tests for the chapter 3 low-rank model: the truncated SVD error of ΔW = rank-k update + noise,
which is zero from the true rank on when there is no noise and never grows with r.
"""

import numpy as np
import pytest

from simulations import lora_rank


@pytest.mark.parametrize("true_rank", [1, 8, 12, 40])
def test_error_is_zero_at_or_above_the_true_rank_without_noise(true_rank):
    for r in (true_rank, min(true_rank + 5, 64)):
        result = lora_rank.simulate(lora_rank.Params(r=r, true_rank=true_rank, noise=0.0))
        assert result.relative_error < 1e-6
        np.testing.assert_allclose(result.approx_corner, result.corner, atol=1e-9)


def test_error_is_positive_below_the_true_rank_without_noise():
    result = lora_rank.simulate(lora_rank.Params(r=8, true_rank=12, noise=0.0))
    assert result.relative_error > 0.01


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.5, 1.0])
def test_error_never_increases_with_rank(noise):
    result = lora_rank.simulate(lora_rank.Params(noise=noise, d=64))
    assert np.all(np.diff(result.error_by_rank) <= 1e-12)
    assert result.relative_error == result.error_by_rank[result.r - 1]


def test_error_follows_the_eckart_young_formula_from_the_spectrum():
    result = lora_rank.simulate(lora_rank.Params(r=5))
    s = result.singular_values
    assert result.relative_error == pytest.approx(np.sqrt((s[5:] ** 2).sum() / (s ** 2).sum()))
    assert np.all(np.diff(s) <= 0)


def test_noise_leaves_an_error_floor_past_the_true_rank():
    quiet = lora_rank.simulate(lora_rank.Params(r=20, true_rank=12, noise=0.0))
    noisy = lora_rank.simulate(lora_rank.Params(r=20, true_rank=12, noise=0.3))
    assert noisy.relative_error > quiet.relative_error + 0.05


@pytest.mark.parametrize("d, r", [(64, 1), (128, 8), (512, 64)])
def test_lora_has_2dr_parameters_against_d_squared(d, r):
    result = lora_rank.simulate(lora_rank.Params(d=d, r=r))
    assert (result.lora_params, result.full_params) == (2 * d * r, d * d)


def test_a_different_seed_draws_a_different_matrix():
    first = lora_rank.simulate(lora_rank.Params(seed=1))
    second = lora_rank.simulate(lora_rank.Params(seed=2))
    assert not np.allclose(first.corner, second.corner)


@pytest.mark.parametrize("values", [
    {"r": 1, "d": 64, "true_rank": 64, "noise": 1.0},
    {"r": 64, "d": 512, "true_rank": 1, "noise": 0.0},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(lora_rank.figure(run(lora_rank, **values)))
