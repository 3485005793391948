"""Tests for newsstudy.metrics: against ranx, by hand, edge cases, intervals."""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from newsstudy import metrics
from newsstudy.metrics import (
    METRICS,
    bootstrap_ci,
    evaluate_user,
    evaluate_users,
    get_metric,
    hit_rate_at_k,
    mean_with_ci,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

N_RANDOM_CASES = 250
TOL = 1e-9


def _random_cases(n: int, seed: int = 7) -> list[tuple[list[int], set[int], int]]:
    """Random (ranked without duplicates, non-empty relevant set, k in 1..20) cases."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        n_items = int(rng.integers(20, 60))
        ranked = rng.permutation(n_items)[: int(rng.integers(1, 30))].tolist()
        relevant = set(rng.choice(n_items, size=int(rng.integers(1, 12)), replace=False).tolist())
        cases.append((ranked, relevant, int(rng.integers(1, 21))))
    return cases


@pytest.fixture(scope="module")
def ranx_scores() -> tuple[list, dict[str, dict[str, float]]]:
    """ranx per-user scores for every case and every metric/k pair it needs."""
    ranx = pytest.importorskip("ranx")
    cases = _random_cases(N_RANDOM_CASES)
    qrels = ranx.Qrels({f"q{i}": {str(d): 1 for d in rel} for i, (_, rel, _) in enumerate(cases)})
    run = ranx.Run(
        {
            f"q{i}": {str(d): float(len(ranked) - r) for r, d in enumerate(ranked)}
            for i, (ranked, _, _) in enumerate(cases)
        }
    )
    names = [f"{m}@{k}" for m in ("recall", "ndcg", "precision") for k in range(1, 21)] + ["mrr"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety chatter
        ranx.evaluate(qrels, run, names)
    return cases, {name: dict(run.scores[name]) for name in names}


@pytest.mark.slow  # ranx compiles its numba kernels on first use (~45 s)
@pytest.mark.parametrize(
    ("name", "fn"),
    [("recall", recall_at_k), ("ndcg", ndcg_at_k), ("precision", precision_at_k)],
)
def test_at_k_metrics_match_ranx(ranx_scores, name, fn):
    cases, scores = ranx_scores
    for i, (ranked, relevant, k) in enumerate(cases):
        expected = scores[f"{name}@{k}"][f"q{i}"]
        assert fn(ranked, relevant, k) == pytest.approx(expected, abs=TOL), (ranked, relevant, k)


@pytest.mark.slow
def test_mrr_matches_ranx(ranx_scores):
    cases, scores = ranx_scores
    for i, (ranked, relevant, _) in enumerate(cases):
        assert mrr(ranked, relevant) == pytest.approx(scores["mrr"][f"q{i}"], abs=TOL)


def test_hand_calculated_case():
    ranked, relevant = [3, 1, 2], {1, 2}
    assert recall_at_k(ranked, relevant, 1) == 0.0
    assert recall_at_k(ranked, relevant, 2) == 0.5
    assert recall_at_k(ranked, relevant, 3) == 1.0
    g = 1 / math.log2(3)
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(g / (1 + g), abs=TOL)
    assert ndcg_at_k(ranked, relevant, 3) == pytest.approx((g + 0.5) / (1 + g), abs=TOL)
    assert mrr(ranked, relevant) == 0.5
    assert precision_at_k(ranked, relevant, 2) == 0.5
    assert hit_rate_at_k(ranked, relevant, 1) == 0.0
    assert hit_rate_at_k(ranked, relevant, 2) == 1.0


def test_string_ids_and_perfect_ranking():
    assert ndcg_at_k(["a", "b", "c"], ["a", "b"], 5) == pytest.approx(1.0)
    assert recall_at_k(["a", "b"], {"a", "b", "c"}, 10) == pytest.approx(2 / 3)


def test_duplicates_count_once_at_first_occurrence():
    assert recall_at_k([1, 1, 2], {1, 2}, 2) == 1.0
    assert precision_at_k([1, 1, 1], {1}, 3) == pytest.approx(1 / 3)
    assert mrr([5, 5, 1], {1}) == 0.5
    assert ndcg_at_k([1, 1, 2], {1, 2}, 2) == pytest.approx(1.0)


@pytest.mark.parametrize("fn", [recall_at_k, ndcg_at_k, precision_at_k, hit_rate_at_k])
def test_empty_relevant_and_empty_ranked_score_zero(fn):
    assert fn([1, 2, 3], set(), 5) == 0.0
    assert fn([], {1}, 5) == 0.0
    assert fn([], set(), 5) == 0.0


def test_mrr_edge_cases():
    assert mrr([1, 2], set()) == 0.0
    assert mrr([], {1}) == 0.0
    assert mrr([1, 2, 3], {9}) == 0.0


def test_k_larger_than_list():
    assert recall_at_k([1, 2], {1, 2}, 100) == 1.0
    assert ndcg_at_k([2], {1, 2}, 100) == pytest.approx(1.0 / (1 + 1 / math.log2(3)))
    assert precision_at_k([1], {1}, 4) == 0.25


@pytest.mark.parametrize("bad_k", [0, -1, 1.5, "3", None, True])
@pytest.mark.parametrize("fn", [recall_at_k, ndcg_at_k, precision_at_k, hit_rate_at_k])
def test_bad_k_raises_naming_k(fn, bad_k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fn([1, 2], {1}, bad_k)


def test_numpy_integer_k_is_accepted():
    assert recall_at_k([1, 2], {2}, np.int64(2)) == 1.0


def test_metrics_table_and_parsing():
    assert {"recall@5", "recall@10", "ndcg@5", "ndcg@10", "mrr"} <= set(METRICS)
    assert METRICS["recall@10"]([1, 2], {2}) == 1.0
    assert get_metric("ndcg@7")([1], {1}) == 1.0
    for bad in ("recal@5", "ndcg@0", "mrr@5", "ndcg"):
        with pytest.raises(ValueError):
            get_metric(bad)


def test_evaluate_user_keys_and_values():
    out = evaluate_user([3, 1, 2], {1, 2})
    assert list(out) == list(metrics.DEFAULT_METRICS)
    assert out["recall@5"] == 1.0 and out["mrr"] == 0.5
    assert all(isinstance(v, float) for v in out.values())


def test_evaluate_users_shape_and_order():
    rankings = {"u1": [1, 2, 3], "u2": [4, 5], "extra": [9]}
    truth = {"u2": {5}, "u1": {1}, "u3": {7}}
    df = evaluate_users(rankings, truth)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (3, 5)
    assert list(df.index) == ["u2", "u1", "u3"] and df.index.name == "user"
    assert list(df.columns) == list(metrics.DEFAULT_METRICS)
    assert df.loc["u1", "mrr"] == 1.0 and df.loc["u2", "mrr"] == 0.5
    assert (df.loc["u3"] == 0.0).all()  # no ranking at all scores zero


def test_evaluate_users_empty_and_typo():
    empty = evaluate_users({}, {}, ("mrr",))
    assert empty.shape == (0, 1)
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_users({}, {}, ("ndgc@5",))


def test_mean_with_ci_against_scipy_by_hand():
    values = np.random.default_rng(0).normal(0.3, 0.1, size=25)
    mean, low, high = mean_with_ci(values, confidence=0.9)
    half = stats.t.ppf(0.95, 24) * values.std(ddof=1) / math.sqrt(25)
    assert mean == pytest.approx(values.mean(), abs=TOL)
    assert low == pytest.approx(values.mean() - half, abs=TOL)
    assert high == pytest.approx(values.mean() + half, abs=TOL)
    s_low, s_high = stats.t.interval(0.9, 24, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx((s_low, s_high), abs=TOL)


def test_mean_with_ci_edge_cases():
    mean, low, high = mean_with_ci([0.5])
    assert mean == 0.5 and math.isnan(low) and math.isnan(high)
    assert mean_with_ci([0.2, 0.2, 0.2]) == pytest.approx((0.2, 0.2, 0.2))
    for bad in ([], [1.0, float("nan")]):
        with pytest.raises(ValueError):
            mean_with_ci(bad)
    with pytest.raises(ValueError, match="confidence"):
        mean_with_ci([1.0, 2.0], confidence=1.5)


def test_bootstrap_ci_deterministic_and_sane():
    values = np.random.default_rng(1).random(200)
    first = bootstrap_ci(values, n_resamples=2000, seed=3)
    assert first == bootstrap_ci(values, n_resamples=2000, seed=3)
    assert first != bootstrap_ci(values, n_resamples=2000, seed=4)
    stat, low, high = first
    assert stat == pytest.approx(values.mean())
    assert low < stat < high
    t_mean, t_low, t_high = mean_with_ci(values)
    assert low == pytest.approx(t_low, abs=0.01) and high == pytest.approx(t_high, abs=0.01)


def test_bootstrap_ci_chunking_and_statistic():
    values = np.arange(5000, dtype=float)  # chunk of 200 resamples: many chunks
    stat, low, high = bootstrap_ci(values, n_resamples=450, statistic=np.median, seed=0)
    assert stat == np.median(values) and low < stat < high
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(values, n_resamples=0)


def test_doctests():
    from newsstudy import metrics

    result = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
