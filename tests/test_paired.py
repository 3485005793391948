"""Paired comparisons of two methods on the same users (evaluation.paired_difference)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from newsstudy.evaluation import PairedDifference, paired_difference, paired_table
from newsstudy.metrics import mean_with_ci


def scores(values, users=None) -> pd.Series:
    return pd.Series(values, index=list(users) if users is not None else range(len(values)),
                     dtype=float)


def assert_same(found: PairedDifference, expected: PairedDifference) -> None:
    assert found.to_dict() == pytest.approx(expected.to_dict())


def test_hand_computed_t_interval_and_p_value():
    base = np.array([0.1, 0.5, 0.2, 0.9])
    d = np.array([1.0, 2.0, 3.0, 4.0])
    found = paired_difference(scores(base + d), scores(base))
    n, mean, sd = 4, 2.5, math.sqrt(5 / 3)  # sd of [1, 2, 3, 4], ddof = 1
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert found.n == n and found.diff == pytest.approx(mean)
    assert (found.low, found.high) == pytest.approx((mean - half, mean + half))
    assert (found.low, found.high) == pytest.approx((0.4458, 4.5542), abs=1e-4)
    assert found.p_value == pytest.approx(stats.ttest_rel(base + d, base).pvalue)
    assert found.mean_a == pytest.approx(base.mean() + mean)
    assert found.mean_b == pytest.approx(base.mean())
    assert found.relative == pytest.approx(mean / base.mean())
    assert found.excludes_zero() and found.above_zero()
    assert found.ci_method == "t" and found.level == 0.95


def test_other_level_and_negative_difference():
    found = paired_difference(scores([0, 0, 0, 0]), scores([1, 2, 3, 4]), level=0.9)
    half = stats.t.ppf(0.95, 3) * math.sqrt(5 / 3) / 2
    assert (found.low, found.high) == pytest.approx((-2.5 - half, -2.5 + half))
    assert found.excludes_zero() and not found.above_zero()


def test_aligns_on_common_users_and_averages_seeds():
    a = scores([0.1, 0.4, 0.3, 0.8, 0.5], users=[1, 2, 3, 4, 5])
    b = scores([0.2, 0.1, np.nan, 0.6, 0.0], users=[6, 2, 3, 4, 5])  # 3 is NaN in b
    found = paired_difference(a, b)
    expected = paired_difference(scores([0.4, 0.8, 0.5]), scores([0.1, 0.6, 0.0]))
    assert found.n == 3
    assert_same(found, expected)
    # The order of users does not matter; a user's rows (seeds) are averaged first.
    assert_same(paired_difference(a.iloc[::-1], b.sample(frac=1, random_state=1)), expected)
    seeds = scores([0.3, 0.5, 0.8, 0.5], users=[2, 2, 4, 5])
    assert_same(paired_difference(seeds, b), expected)


def test_fewer_than_two_common_users_and_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least 2 users"):
        paired_difference(scores([1, 2], users=[1, 2]), scores([1, 2], users=[2, 3]))
    with pytest.raises(ValueError, match="at least 2 users"):
        paired_difference(scores([1, 2], users=[1, 2]), scores([1, 2], users=[3, 4]))
    with pytest.raises(ValueError, match="method"):
        paired_difference(scores([1, 2]), scores([1, 2]), method="wilcoxon")
    with pytest.raises(ValueError, match="level"):
        paired_difference(scores([1, 2]), scores([1, 2]), level=95)


def test_constant_difference_collapses_the_interval():
    found = paired_difference(scores([2, 3, 4]), scores([1, 2, 3]))
    assert (found.diff, found.low, found.high, found.p_value) == (1.0, 1.0, 1.0, 0.0)
    same = paired_difference(scores([1, 2, 3]), scores([1, 2, 3]))
    assert (same.diff, same.p_value) == (0.0, 1.0) and not same.excludes_zero()


def test_bootstrap_agrees_with_t_on_a_large_sample_and_is_deterministic():
    rng = np.random.default_rng(7)
    base = rng.uniform(0, 1, 3000)
    a, b = scores(base + rng.normal(0.02, 0.2, base.size)), scores(base)
    t = paired_difference(a, b)
    boot = paired_difference(a, b, method="bootstrap", n_boot=4000, seed=3)
    half = (t.high - t.low) / 2
    assert boot.ci_method == "bootstrap" and boot.diff == t.diff and boot.p_value == t.p_value
    assert abs(boot.low - t.low) < 0.1 * half and abs(boot.high - t.high) < 0.1 * half
    assert paired_difference(a, b, method="bootstrap", n_boot=4000, seed=3) == boot
    assert paired_difference(a, b, method="bootstrap", n_boot=4000, seed=4) != boot
    assert paired_difference(a, b) == t


def test_paired_interval_excludes_zero_where_separate_intervals_overlap():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 200)  # users differ a lot; the methods differ little
    a, b = base + 0.03 + rng.normal(0, 0.01, base.size), base
    _, a_low, a_high = mean_with_ci(a)
    _, b_low, b_high = mean_with_ci(b)
    assert a_low < b_high  # the separate intervals overlap
    found = paired_difference(scores(a), scores(b))
    assert found.above_zero() and found.low > 0.025 and found.p_value < 1e-10


def test_to_dict_is_plain_json_without_nan():
    found = paired_difference(scores([1, 2, 3]), scores([0, 0, 0]))
    out = found.to_dict()
    assert math.isnan(found.relative) and out["relative"] is None
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out["n"] == 3 and isinstance(out["n"], int) and out["ci_method"] == "t"
    assert all(type(out[k]) is float for k in ("mean_a", "mean_b", "diff", "low", "high",
                                               "p_value", "level"))


def test_text_shows_difference_interval_and_n():
    found = PairedDifference(0.3, 0.2, 0.1, 0.05, 0.15, 12, 0.01, 0.5)
    assert found.text() == "paired diff +0.100 [+0.050, +0.150], n = 12"


def test_paired_table_one_row_per_method_against_the_reference():
    rng = np.random.default_rng(1)
    users = np.arange(50)
    rows = []
    for method, shift, seeds in (("base", 0.0, 1), ("better", 0.1, 3), ("same", 0.0, 2)):
        for seed in range(seeds):
            values = users / 50 + shift + rng.normal(0, 0.05, users.size)
            rows += [{"method": method, "seed": seed, "user": u, "recall@10": v}
                     for u, v in zip(users, values, strict=True)]
    per_user = pd.DataFrame(rows)
    table = paired_table(per_user, "method", "recall@10", "base")
    assert list(table["method"]) == ["better", "same"]
    assert set(table["reference"]) == {"base"}
    by_method = table.set_index("method")
    assert by_method.loc["better", "low"] > 0
    assert by_method.loc["same", "low"] < 0 < by_method.loc["same", "high"]

    def one(name):
        return per_user[per_user["method"] == name].set_index("user")["recall@10"]

    expected = paired_difference(one("better"), one("base"))
    for key, value in expected.to_dict().items():
        assert table.iloc[0][key] == (value if isinstance(value, str) else pytest.approx(value))
    with pytest.raises(ValueError, match="clashes"):
        paired_table(per_user.rename(columns={"method": "n"}), "n", "recall@10", "base")
    with pytest.raises(ValueError, match="reference 'nope'"):
        paired_table(per_user, "method", "recall@10", "nope")
