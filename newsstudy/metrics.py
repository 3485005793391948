"""Ranking metrics for one user, a name -> function table, and confidence intervals.

Every metric is a plain function of ``(ranked, relevant[, k])`` for one user:

* ``ranked`` is a sequence of article ids (ints or strs), best first.
* ``relevant`` is a collection of article ids: the user's held-out clicks.

Conventions, shared by all metrics and matching ``ranx`` (the test suite checks
recall, NDCG, MRR and precision against it on random cases):

* **Binary relevance.** An id is relevant or it is not; ``relevant`` is read as a set.
* **Duplicates in ``ranked`` count once**, at their first occurrence; later copies are
  dropped before the cut-off, so ``[7, 7, 3]`` is scored as ``[7, 3]``.
* **Empty ``relevant`` scores 0.0** for every metric (there is nothing to find; ranx
  would drop such a user, we keep the row so that user counts stay honest).
* **Recall@k** = ``|top-k ∩ relevant| / |relevant|`` (the standard definition used by
  ranx and trec_eval, *not* capped at ``min(k, |relevant|)``), so a user with more
  relevant items than ``k`` cannot reach 1.0.
* **Precision@k** divides by ``k`` even when fewer than ``k`` items were ranked.
* **NDCG@k** uses the log2 discount ``1 / log2(rank + 1)`` and the ideal DCG over
  ``min(|relevant|, k)`` relevant items at the top.
* **MRR** is the reciprocal rank of the first relevant item over the *whole* list.
* ``k`` must be a positive integer; anything else raises ``ValueError`` naming ``k``.

``METRICS`` maps configuration names (``"recall@10"``, ``"ndcg@5"``, ``"mrr"``, ...) to
functions of ``(ranked, relevant)``; :func:`get_metric` also parses any ``"<name>@<k>"``.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd
from scipy import stats

ItemId = Hashable
Metric = Callable[[Sequence[ItemId], Collection[ItemId]], float]

DEFAULT_METRICS: tuple[str, ...] = ("recall@5", "recall@10", "ndcg@5", "ndcg@10", "mrr")

METRIC_LABELS: dict[str, str] = {"recall@5": "R@5", "recall@10": "R@10", "ndcg@5": "N@5",
                                 "ndcg@10": "N@10", "mrr": "MRR"}
"""Each metric's short label in tables (the paper's column names)."""


def check_k(k: object, name: str = "k") -> int:
    """Return ``k`` as an int if it is a positive integer, else raise ``ValueError``.

    ``name`` is the parameter named in the error message.

    >>> check_k(5)
    5
    >>> check_k(0)
    Traceback (most recent call last):
    ...
    ValueError: k must be a positive integer, got k=0
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={k!r}")
    return int(k)


def _hits_at_k(ranked: Iterable[ItemId], relevant: set, k: int) -> list[bool]:
    """Relevance flags of the first ``k`` distinct ranked ids (stops reading there)."""
    seen: dict[ItemId, None] = {}
    for item in ranked:
        if item not in seen:
            seen[item] = None
            if len(seen) == k:
                break
    return [item in relevant for item in seen]


def recall_at_k(ranked: Sequence[ItemId], relevant: Collection[ItemId], k: int) -> float:
    """Share of the relevant ids found in the top ``k``: ``|top-k ∩ rel| / |rel|``.

    >>> recall_at_k([3, 1, 2], {1, 2}, 2)
    0.5
    """
    k = check_k(k)
    rel = set(relevant)
    if not rel:
        return 0.0
    return sum(_hits_at_k(ranked, rel, k)) / len(rel)


def precision_at_k(ranked: Sequence[ItemId], relevant: Collection[ItemId], k: int) -> float:
    """Share of the top ``k`` slots holding a relevant id (always divided by ``k``).

    >>> precision_at_k([3, 1, 2], {1, 2}, 2)
    0.5
    """
    k = check_k(k)
    rel = set(relevant)
    if not rel:
        return 0.0
    return sum(_hits_at_k(ranked, rel, k)) / k


def hit_rate_at_k(ranked: Sequence[ItemId], relevant: Collection[ItemId], k: int) -> float:
    """1.0 if any relevant id is in the top ``k``, else 0.0.

    >>> hit_rate_at_k([3, 1, 2], {1, 2}, 1), hit_rate_at_k([3, 1, 2], {1, 2}, 2)
    (0.0, 1.0)
    """
    k = check_k(k)
    rel = set(relevant)
    return float(any(_hits_at_k(ranked, rel, k))) if rel else 0.0


def ndcg_at_k(ranked: Sequence[ItemId], relevant: Collection[ItemId], k: int) -> float:
    """Binary-relevance NDCG@k with the ``1 / log2(rank + 1)`` discount.

    >>> round(ndcg_at_k([3, 1, 2], {1, 2}, 2), 6)  # (1/log2 3) / (1 + 1/log2 3)
    0.386853
    """
    k = check_k(k)
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(_hits_at_k(ranked, rel, k)) if hit)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
    return dcg / ideal


def mrr(ranked: Sequence[ItemId], relevant: Collection[ItemId]) -> float:
    """Reciprocal rank of the first relevant id in the whole list; 0.0 if none.

    >>> mrr([3, 1, 2], {1, 2})
    0.5
    """
    rel = set(relevant)
    seen: set[ItemId] = set()
    for item in ranked:
        if item in seen:
            continue
        if item in rel:
            return 1.0 / (len(seen) + 1)
        seen.add(item)
    return 0.0


AT_K_METRICS: dict[str, Callable[[Sequence[ItemId], Collection[ItemId], int], float]] = {
    "recall": recall_at_k,
    "precision": precision_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
}

METRICS: dict[str, Metric] = {
    f"{name}@{k}": partial(fn, k=k)
    for name, fn in AT_K_METRICS.items()
    for k in (1, 5, 10, 20, 50, 100)
}
METRICS["mrr"] = mrr

_AT_K_NAME = re.compile(r"^([a-z_]+)@(\d+)$")


def get_metric(name: str) -> Metric:
    """The metric called ``name``: a key of ``METRICS`` or any ``"<name>@<k>"``.

    >>> get_metric("recall@3")([1, 2, 3], {3})
    1.0
    """
    if name in METRICS:
        return METRICS[name]
    match = _AT_K_NAME.match(name) if isinstance(name, str) else None
    if match and match.group(1) in AT_K_METRICS:
        return partial(AT_K_METRICS[match.group(1)], k=check_k(int(match.group(2))))
    known = ", ".join([*(f"{n}@<k>" for n in AT_K_METRICS), "mrr"])
    raise ValueError(f"unknown metric {name!r}; known: {known}")


def evaluate_user(
    ranked: Sequence[ItemId],
    relevant: Collection[ItemId],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, float]:
    """Score one user's ranking with every metric named in ``metrics``.

    >>> evaluate_user([3, 1, 2], {1, 2}, ("recall@1", "recall@2", "mrr"))
    {'recall@1': 0.0, 'recall@2': 0.5, 'mrr': 0.5}
    """
    ranked = ranked if isinstance(ranked, Sequence) else list(ranked)  # read many times
    relevant = set(relevant)
    return {name: float(get_metric(name)(ranked, relevant)) for name in metrics}


def evaluate_users(
    rankings: Mapping[ItemId, Sequence[ItemId]],
    truth: Mapping[ItemId, Collection[ItemId]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> pd.DataFrame:
    """One row per user of ``truth`` (index ``"user"``), one column per metric.

    The users scored are those of ``truth``, in its order: a user with no ranking
    scores as an empty list (0.0), users only in ``rankings`` are ignored.

    >>> df = evaluate_users({"a": [1, 2], "b": [3]}, {"a": {2}, "b": {4}}, ("mrr",))
    >>> df["mrr"].to_dict(), df.index.name
    ({'a': 0.5, 'b': 0.0}, 'user')
    """
    metric_names = list(metrics)
    for name in metric_names:
        get_metric(name)  # fail fast on a typo, even with no users
    rows = [
        list(evaluate_user(rankings.get(user, ()), rel, metric_names).values())
        for user, rel in truth.items()
    ]
    index = pd.Index(list(truth), name="user")
    values = np.asarray(rows, dtype=float).reshape(len(rows), len(metric_names))
    return pd.DataFrame(values, index=index, columns=metric_names)


def _as_finite_array(values: Iterable[float]) -> np.ndarray:
    """``values`` as a 1-d float array; ``ValueError`` if empty or not finite."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, float)
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError("values must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError("values must be finite (no NaN or inf)")
    return arr


def _check_confidence(confidence: float) -> float:
    """Return ``confidence`` if it lies strictly between 0 and 1, else raise."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got confidence={confidence!r}")
    return float(confidence)


def mean_with_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval ``mean ± t(n-1) * s / sqrt(n)``.

    ``s`` is the sample standard deviation (ddof=1). With one value the interval is
    ``(nan, nan)``; with zero spread it collapses onto the mean.

    >>> m, lo, hi = mean_with_ci([1.0, 2.0, 3.0])
    >>> m, round(lo, 4), round(hi, 4)
    (2.0, -0.4841, 4.4841)
    """
    arr = _as_finite_array(values)
    confidence = _check_confidence(confidence)
    mean = float(arr.mean())
    n = arr.size
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1) * arr.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def bootstrap_ci(
    values: Iterable[float],
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    statistic: Callable[..., np.ndarray] = np.mean,
) -> tuple[float, float, float]:
    """Statistic and percentile-bootstrap interval, from a seeded ``numpy`` Generator.

    ``statistic`` must accept ``axis=1`` (like ``np.mean``, ``np.median``). Resamples
    are drawn in chunks, so memory stays bounded for many users. Same seed, same
    interval.

    >>> bootstrap_ci([1.0, 2.0, 3.0, 4.0], n_resamples=2000, seed=1) == \
bootstrap_ci([1.0, 2.0, 3.0, 4.0], n_resamples=2000, seed=1)
    True
    """
    arr = _as_finite_array(values)
    confidence = _check_confidence(confidence)
    n_resamples = check_k(n_resamples, "n_resamples")
    rng = np.random.default_rng(seed)
    chunk = max(1, 1_000_000 // arr.size)
    draws = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        idx = rng.integers(0, arr.size, size=(size, arr.size))
        draws.append(np.asarray(statistic(arr[idx], axis=1), dtype=float))
    boot = np.concatenate(draws)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return float(statistic(arr)), float(low), float(high)
