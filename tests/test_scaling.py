"""Compute estimates, the log-linear fit and best-of-N selection, against hand calculations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from newsstudy import scaling
from newsstudy.scaling_report import matches_at_lower_compute


def test_flops_rules_of_thumb():
    assert scaling.training_flops(1_000, 50) == 300_000
    assert scaling.inference_flops(1_000, 30, 20) == 100_000


def test_log_linear_fit_recovers_a_perfect_line():
    sizes = [1e5, 1e6, 1e7]
    values = [np.full(20, 0.1 + 0.05 * k) for k in range(3)]  # +0.05 per decade
    fit = scaling.fit_log_linear(sizes, values, n_boot=50)
    assert fit["slope_per_decade"] == pytest.approx(0.05)
    assert fit["slope_low"] == pytest.approx(0.05) and fit["slope_high"] == pytest.approx(0.05)
    assert fit["intercept"] == pytest.approx(0.1 - 0.05 * 5)


def test_log_linear_interval_covers_zero_for_noise():
    rng = np.random.default_rng(0)
    values = [rng.normal(0.2, 0.1, 300) for _ in range(4)]
    fit = scaling.fit_log_linear([1e5, 1e6, 1e7, 1e8], values, n_boot=300)
    assert fit["slope_low"] < 0 < fit["slope_high"]


def _samples():
    # one user, 3 samples: the reward prefers sample 2, recall prefers sample 0
    return pd.DataFrame({"user": [7, 7, 7], "sample": [0, 1, 2], "total": [1.0, 2.0, 3.0],
                         "recall@10": [0.9, 0.5, 0.1]})


def test_best_of_n_by_hand():
    picked = scaling.best_of_n(_samples(), [1, 3], "total", ["recall@10"], n_draws=2000)
    by_n = picked.set_index("n")["recall@10"]
    assert by_n[3] == pytest.approx(0.1)  # all three: the reward's favourite
    assert by_n[1] == pytest.approx(0.5, abs=0.03)  # one random sample: the mean
    oracle = scaling.best_of_n(_samples(), [3], "recall@10", ["recall@10"])
    assert oracle["recall@10"].iloc[0] == pytest.approx(0.9)


def test_best_of_n_pair_expectation():
    # N = 2 of 3: pairs {0,1}->1 (0.5), {0,2}->2 (0.1), {1,2}->2 (0.1); mean 0.2333
    picked = scaling.best_of_n(_samples(), [2], "total", ["recall@10"], n_draws=4000, seed=1)
    assert picked["recall@10"].iloc[0] == pytest.approx(0.7 / 3, abs=0.02)


def test_best_of_n_refuses_more_than_sampled():
    with pytest.raises(ValueError, match="only 3 samples"):
        scaling.best_of_n(_samples(), [4], "total", ["recall@10"])


def test_union_round_robin_without_duplicates():
    assert scaling.union_query_lists([["a", "b"], ["b", "c", "d"], []]) == ["a", "b", "c", "d"]
    assert scaling.union_query_lists([]) == []
    assert scaling.union_query_lists([[" ", ""]]) == []


def test_small_model_match_is_the_cheapest():
    points = pd.DataFrame([
        {"size": "xs", "params": 1, "n": 1, "recall@10": 0.10, "flops_per_user": 1.0},
        {"size": "xs", "params": 1, "n": 4, "recall@10": 0.21, "flops_per_user": 4.0},
        {"size": "s", "params": 3, "n": 1, "recall@10": 0.20, "flops_per_user": 3.0},
        {"size": "s", "params": 3, "n": 2, "recall@10": 0.25, "flops_per_user": 6.0},
        {"size": "m", "params": 9, "n": 1, "recall@10": 0.30, "flops_per_user": 9.0},
    ])
    matches = matches_at_lower_compute(points).set_index("size at N=1")
    assert matches.loc["s", "matched by"] == "xs" and matches.loc["s", "N"] == 4
    assert matches.loc["s", "FLOPs ratio"] == pytest.approx(4 / 3)
    assert matches.loc["m", "matched by"] == "none"
