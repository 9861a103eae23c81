"""Tests for the chapter 4 loss-curve model: early stopping marks the lowest validation loss, the
train/validation gap widens with epochs on small data, and too high a learning rate spikes and diverges.
"""

import math

import numpy as np
import pytest

from simulations import loss_curve


@pytest.mark.parametrize("values", [{}, {"dataset_size": 100, "epochs": 6}, {"learning_rate": 1e-3},
                                    {"dataset_size": 20, "epochs": 1}])
def test_early_stopping_step_is_where_validation_loss_is_lowest(values):
    result = loss_curve.simulate(loss_curve.Params(**values))
    best = int(np.argmin(result.val_loss))
    assert result.early_stop_step == result.eval_step[best]
    assert result.early_stop_val_loss == result.val_loss.min()


def test_train_validation_gap_grows_with_epochs_on_small_data():
    gaps = [loss_curve.simulate(loss_curve.Params(dataset_size=100, epochs=e)).final_gap for e in (1, 2, 4)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0] + 0.5


def test_small_data_overfits_more_than_large_data():
    small = loss_curve.simulate(loss_curve.Params(dataset_size=100, epochs=5))
    large = loss_curve.simulate(loss_curve.Params(dataset_size=10_000, epochs=5))
    assert small.final_gap > 3 * large.final_gap


def test_validation_loss_rises_after_early_stopping_when_small_data_is_overtrained():
    result = loss_curve.simulate(loss_curve.Params(dataset_size=100, epochs=6))
    assert result.final_val_loss > result.early_stop_val_loss + 0.1
    assert result.early_stop_step < result.total_steps / 2


def test_too_high_a_learning_rate_spikes_and_diverges():
    result = loss_curve.simulate(loss_curve.Params(learning_rate=1e-3))
    assert result.diverged and result.spikes > 0
    assert result.final_val_loss > loss_curve.INITIAL_LOSS
    assert "diverges" in loss_curve.headline(result)


def test_the_usual_learning_rate_trains_smoothly():
    result = loss_curve.simulate(loss_curve.Params(learning_rate=2e-4))
    assert not result.diverged and result.spikes == 0
    assert result.final_train_loss < loss_curve.INITIAL_LOSS / 2


def test_a_tiny_learning_rate_barely_learns():
    slow = loss_curve.simulate(loss_curve.Params(learning_rate=1e-5))
    usual = loss_curve.simulate(loss_curve.Params())
    assert slow.early_stop_val_loss > usual.early_stop_val_loss + 0.5


@pytest.mark.parametrize("size, epochs", [(20, 1), (500, 3), (10_000, 10)])
def test_steps_follow_an_effective_batch_of_16(size, epochs):
    result = loss_curve.simulate(loss_curve.Params(dataset_size=size, epochs=epochs))
    assert result.steps_per_epoch == math.ceil(size / 16)
    assert result.total_steps == epochs * result.steps_per_epoch
    assert len(result.step) <= 400 and result.eval_step[-1] == result.total_steps


def test_the_seed_changes_the_noise_only():
    first = loss_curve.simulate(loss_curve.Params(seed=1))
    second = loss_curve.simulate(loss_curve.Params(seed=2))
    assert not np.array_equal(first.train_loss, second.train_loss)
    np.testing.assert_allclose(first.val_loss, second.val_loss, rtol=0.03)


@pytest.mark.parametrize("values", [
    {"dataset_size": 20, "epochs": 1, "learning_rate": 1e-5, "r": 1},
    {"dataset_size": 10_000, "epochs": 10, "learning_rate": 1e-3, "r": 256},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(loss_curve.figure(run(loss_curve, **values)))
