"""Compute estimates, the log-linear fit and best-of-N selection, against hand calculations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from newsstudy import scaling
from newsstudy.scaling.tables import describe_matches, gain_share_table, matches_at_lower_compute


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
    oracle = scaling.best_of_n(_samples(), [3], "recall@10", ["recall@10"], n_draws=16)
    assert oracle["recall@10"].iloc[0] == pytest.approx(0.9)


def test_best_of_n_pair_expectation():
    # N = 2 of 3: pairs {0,1}->1 (0.5), {0,2}->2 (0.1), {1,2}->2 (0.1); mean 0.2333
    picked = scaling.best_of_n(_samples(), [2], "total", ["recall@10"], n_draws=4000, seed=1)
    assert picked["recall@10"].iloc[0] == pytest.approx(0.7 / 3, abs=0.02)


def test_best_of_n_refuses_more_than_sampled():
    with pytest.raises(ValueError, match="only 3 samples"):
        scaling.best_of_n(_samples(), [4], "total", ["recall@10"], n_draws=16)


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


def _picked(values: dict[int, list[float]]) -> pd.DataFrame:
    """{n: per-user values} -> rows (user, n, recall@10)."""
    return pd.DataFrame([{"user": u, "n": n, "recall@10": v}
                         for n, vs in values.items() for u, v in enumerate(vs)])


def test_random_pick_is_the_mean_of_a_users_samples():
    samples = pd.DataFrame({"user": [1, 1, 1, 2, 2, 2], "sample": [0, 1, 2, 0, 1, 2],
                            "recall@10": [0.0, 0.3, 0.6, 1.0, 1.0, 0.4]})
    got = scaling.random_pick(samples, ["recall@10"])["recall@10"]
    assert got.loc[1] == pytest.approx(0.3) and got.loc[2] == pytest.approx(0.8)


def test_pick_gains_are_paired_differences_by_hand():
    picked = _picked({1: [0.1, 0.2, 0.3], 4: [0.3, 0.5, 0.4]})
    baseline = pd.DataFrame({"recall@10": [0.1, 0.2, 0.2]}, index=[0, 1, 2])
    gains = scaling.pick_gains(picked, baseline).set_index("N")
    d = np.array([0.2, 0.3, 0.2])  # N = 4 minus the random pick, per user
    half = 4.302652729911275 * d.std(ddof=1) / np.sqrt(3)  # t_{0.975, 2}
    assert gains.loc[4, "gain"] == pytest.approx(d.mean())
    assert gains.loc[4, "low"] == pytest.approx(d.mean() - half)
    assert gains.loc[1, "gain"] == pytest.approx(0.1 / 3)
    assert gains.loc[4, "n"] == 3


def test_diminishing_returns_by_hand():
    # per user: +0.2 over two doublings (1 -> 4), then +0.03 over three (4 -> 32)
    picked = _picked({1: [0.1, 0.2, 0.0, 0.1], 4: [0.3, 0.4, 0.2, 0.3],
                      32: [0.33, 0.43, 0.23, 0.33]})
    out = scaling.diminishing_returns(picked, split=4)
    assert out["early_gain_per_doubling"] == pytest.approx(0.1)
    assert out["late_gain_per_doubling"] == pytest.approx(0.01)
    assert out["difference"] == pytest.approx(0.09) and out["holds"]
    rising = _picked({1: [0.0, 0.1, 0.0], 4: [0.01, 0.11, 0.0], 32: [0.4, 0.5, 0.3]})
    assert not scaling.diminishing_returns(rising, split=4)["holds"]
    with pytest.raises(ValueError, match="strictly between"):
        scaling.diminishing_returns(picked, split=32)


def test_gain_share_by_hand():
    best = pd.DataFrame({"N": [1, 2, 4], "R@10 reward-picked": [0.10, 0.16, 0.18],
                         "R@10 paper": [0.271, 0.294, 0.301]})
    share = gain_share_table(best)
    assert share["ours: share of gain"].tolist() == pytest.approx([0.0, 0.75, 1.0])
    assert share["paper: share of gain"].tolist() == pytest.approx([0.0, 23 / 30, 1.0])
    flat = best.assign(**{"R@10 reward-picked": [0.1, 0.1, 0.1]})
    assert gain_share_table(flat)["ours: share of gain"].isna().all()  # no gain to share


def test_describe_matches_names_the_match_or_its_absence():
    matches = pd.DataFrame([
        {"size at N=1": "xl", "its R@10": 0.2, "matched by": "xs", "N": 8, "R@10": 0.21,
         "FLOPs ratio": 0.25},
        {"size at N=1": "l", "its R@10": 0.3, "matched by": "none", "N": None, "R@10": None,
         "FLOPs ratio": None}], dtype=object)
    lines = describe_matches(matches, max_n=8)
    assert lines[0] == ("xs with N = 8 (R@10 0.210) matches xl at N = 1 (R@10 0.200) with "
                        "0.25x its inference FLOPs.")
    assert lines[1] == "No smaller size with best-of-N (N <= 8) reaches l at N = 1 (R@10 0.300)."


def test_ladder_gates_and_their_sentence():
    from newsstudy.scaling.tables import describe_ladder_gates, ladder_gates, loss_slope_per_decade

    validation = pd.DataFrame({
        "size": ["xs", "s", "xl"], "params": [1e5, 1e6, 4e6],
        "imitation passes": [True, False, True], "format passes": [True, True, True],
        "share of demonstrations'": [0.95, 0.80, 1.02],
        "validation SFT loss": [0.50, 0.40, 0.40 - 0.1 * np.log10(4)]})
    gate = ladder_gates(validation)
    assert not gate["sizes_imitate"].passes and gate["sizes_imitate"].failing == ["s"]
    assert gate["sizes_imitate"].shares == {"xs": 0.95, "s": 0.80, "xl": 1.02}
    assert gate["sizes_well_formed"].passes and gate["span_30x"].span == pytest.approx(40)
    slope = loss_slope_per_decade(validation)
    assert slope == pytest.approx(-0.1)  # the three points lie on one line
    text = describe_ladder_gates(gate, slope)
    assert "Imitation: FAILS for s; format: every size passes; parameter span 40.0x" in text
    assert "-0.100 nats" in text
