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


def test_the_real_source_decomposes_the_matrix_it_is_given():
    rng = np.random.default_rng(5)
    delta = rng.standard_normal((96, 3)) @ rng.standard_normal((3, 96))  # rank 3
    result = lora_rank.simulate(lora_rank.Params(source="real", r=3), real=delta)
    assert result.source == "real" and result.d == 96 and result.full_params == 96 ** 2
    assert result.relative_error < 1e-6 and result.error_by_rank[1] > 0.05
    assert "On the real ΔW" in lora_rank.headline(result)


def test_the_real_source_without_a_matrix_is_refused():
    with pytest.raises(ValueError, match="real ΔW"):
        lora_rank.simulate(lora_rank.Params(source="real"))


def test_an_adapters_spectrum_has_its_rank_and_is_drawn_beside_the_real_one():
    rng = np.random.default_rng(6)
    update = rng.standard_normal((64, 2)) @ rng.standard_normal((2, 64))
    measured = lora_rank.adapter_spectrum(update, r=4)
    assert measured["rank"] == 2 and measured["r"] == 4 and len(measured["singular_values"]) == 64
    result = lora_rank.simulate(lora_rank.Params(source="real"), real=update)
    names = [trace["name"] for trace in lora_rank.figure(result, measured)["data"]]
    assert "Your adapter's B·A (rank 2)" in names
    assert "rank 2 (at most r = 4" in lora_rank.headline(result, measured)
