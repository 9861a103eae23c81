"""Tests for the chapter 2 data-balance model: a softmax classifier trained on the chosen class sizes
and scored on a balanced test set, against a balanced training set of the same total size.
"""

import numpy as np
import pytest

from simulations import data_balance

SKEWED = dict(class_a=360, class_b=15, class_c=15, class_d=10)  # 90/10: one class holds 90% of 400


def test_balanced_data_gives_higher_minimum_recall_than_a_90_10_split():
    skewed = data_balance.simulate(data_balance.Params(**SKEWED))
    balanced = data_balance.simulate(data_balance.Params())
    assert balanced.min_recall > skewed.min_recall + 0.3
    assert skewed.balanced_recall.min() > skewed.min_recall  # the reference bars tell the same story


def test_a_90_10_split_almost_always_predicts_the_majority_class():
    result = data_balance.simulate(data_balance.Params(**SKEWED))
    assert result.recall[0] > 0.95 and result.weakest_class != "A"


def test_minority_classes_get_less_confidence_than_the_majority():
    result = data_balance.simulate(data_balance.Params(**SKEWED))
    assert result.confidence[0] > result.confidence[1:].max()


def test_a_class_is_recalled_more_as_its_share_grows():
    recalls = [data_balance.simulate(data_balance.Params(class_d=n)).recall[3] for n in (5, 25, 100, 400)]
    assert recalls == sorted(recalls)


def test_balanced_reference_has_the_same_total_spread_evenly():
    result = data_balance.simulate(data_balance.Params(**SKEWED))
    assert result.balanced_counts.sum() == result.counts.sum() == 400
    assert result.balanced_counts.max() - result.balanced_counts.min() <= 1


def test_default_split_is_its_own_balanced_reference():
    result = data_balance.simulate(data_balance.Params())
    np.testing.assert_array_equal(result.recall, result.balanced_recall)
    assert data_balance.headline(result).startswith("Balanced classes")


def test_accuracy_on_the_balanced_test_set_is_the_mean_recall():
    result = data_balance.simulate(data_balance.Params(**SKEWED))
    assert result.accuracy == pytest.approx(result.recall.mean())
    assert 0.25 < result.balanced_accuracy < 1  # overlapping clouds: better than chance, never perfect


@pytest.mark.parametrize("values", [
    {"class_a": 5, "class_b": 5, "class_c": 5, "class_d": 5},
    {"class_a": 400, "class_b": 400, "class_c": 400, "class_d": 400},
    {"class_a": 400, "class_b": 5, "class_c": 5, "class_d": 5},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(data_balance.figure(run(data_balance, **values)))
