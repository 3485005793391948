"""The shared offline evaluation protocol (every method is scored the same way).

Serving path as in the paper: each query of a list retrieves its top-k articles from the
ANN index of articles on offer in the test window; the per-query hits are fused into one
ranking; Recall@5/10, NDCG@5/10 and MRR are computed against the user's held-out clicks
over that whole index (no candidate sampling).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from newsstudy.metrics import DEFAULT_METRICS, evaluate_users
from newsstudy.output_format import parse_completion
from newsstudy.retrieval import Retriever


def serving_retriever(world, backend: str, index_kind: str, k_per_query: int) -> Retriever:
    """The evaluation retriever: the test-window index in the given embedder's space."""
    from newsstudy.index import NewsIndex

    index = NewsIndex.from_world(world, which="test", backend=backend, kind=index_kind)
    return Retriever(index, backend, k_per_query=k_per_query)


def evaluate_completions(world, retriever: Retriever, completions: Mapping[int, str],
                         fusion: str, top_n: int = 100,
                         metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Per-user ranking metrics of completions (user -> text); users without clicks skipped."""
    truth = world.truth(list(completions))
    users = [u for u in completions if u in truth]
    query_lists = [list(parse_completion(completions[u]).queries) for u in users]
    return evaluate_rankings(world, dict(zip(users, retriever.retrieve(
        query_lists, fusion=fusion, top_n=top_n), strict=True)), metrics)


def evaluate_rankings(world, rankings: Mapping[int, Sequence[int]],
                      metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Per-user ranking metrics of any ranked article lists against the held-out clicks."""
    truth = world.truth(list(rankings))
    frame = evaluate_users({u: rankings[u] for u in truth}, truth, metrics)
    cold = world.users.set_index("user_id")["is_cold"]
    frame["is_cold"] = cold.reindex(frame.index).to_numpy()
    return frame


def interest_quality(world, completions: Mapping[int, str], embedder) -> pd.DataFrame:
    """How well each list models the user's *latent* interests (evaluation only).

    Each query is assigned to its nearest corpus topic (centroids in ``embedder``'s
    space). ``interest_coverage``: weight share of the user's latent interests that some
    query lands on. ``query_precision``: share of queries that land on a latent interest.
    ``queries_per_interest``: queries on the user's interests per interest they reach
    (NaN for a list that reaches none).
    Only a simulation can measure this; nothing in training or the rewards sees it.
    """
    centroids = world.topic_centroids_in(embedder)
    latent = {int(u): g for u, g in world.interests.groupby("user_id")}
    users = list(completions)
    query_lists = [list(parse_completion(completions[u]).queries) for u in users]
    flat = [q for qs in query_lists for q in qs]
    topics = (embedder.encode(flat) @ centroids.T).argmax(axis=1) if flat else []
    rows, start = [], 0
    for user, queries in zip(users, query_lists, strict=True):
        mine_topics = topics[start:start + len(queries)].tolist() if queries else []
        hit_topics = set(mine_topics)
        start += len(queries)
        mine = latent.get(int(user))
        followed = dict(zip(mine["topic"], mine["weight"], strict=True)) if mine is not None else {}
        on_interest = [t for t in mine_topics if t in followed]
        rows.append({
            "user": user,
            "interest_coverage": sum(w for t, w in followed.items() if t in hit_topics),
            "query_precision": np.mean([t in followed for t in mine_topics]) if queries else 0.0,
            "queries_per_interest": (len(on_interest) / len(set(on_interest))
                                     if on_interest else np.nan),
        })
    return pd.DataFrame(rows).set_index("user")


def evaluate_policy(world, serving: Retriever, complete: Callable[[list[int]], Mapping[int, str]],
                    users: Sequence[int], latent_embedder=None, *, fusion: str
                    ) -> tuple[pd.DataFrame, dict[int, str]]:
    """Score any policy (a function from users to completions) with the shared protocol.

    Returns the per-user table (ranking metrics, is_cold, and the latent-interest measures
    when ``latent_embedder`` is given) and the completions themselves.
    """
    completions = dict(complete(list(users)))
    frame = evaluate_completions(world, serving, completions, fusion=fusion)
    if latent_embedder is not None:
        frame = frame.join(interest_quality(world, completions, latent_embedder))
    return frame, completions


def summarise(per_user: pd.DataFrame, by: str | Sequence[str] = "method",
              columns: Sequence[str] = (*DEFAULT_METRICS,)) -> pd.DataFrame:
    """Mean and 95% interval (t, over users) of each column per group; ``n`` users.

    When a ``user`` column is present, a user's rows within a group (one per seed) are
    averaged first: users are the independent units of the interval.
    """
    from newsstudy.metrics import mean_with_ci

    keys = [by] if isinstance(by, str) else list(by)
    if "user" in per_user.columns:
        per_user = per_user.groupby([*keys, "user"], sort=False)[list(columns)].mean().reset_index()
    rows = []
    for key, group in per_user.groupby(by, sort=False):
        row = dict(zip([by] if isinstance(by, str) else by,
                       [key] if isinstance(by, str) else key, strict=True))
        row["n"] = len(group)
        for column in columns:
            mean, low, high = mean_with_ci(group[column].to_numpy(dtype=float))
            row[column] = mean
            row[f"{column} low"] = low
            row[f"{column} high"] = high
        rows.append(row)
    return pd.DataFrame(rows)


# --- paired comparisons ------------------------------------------------------------------


@dataclass(frozen=True)
class PairedDifference:
    """Method A against method B on the same users: ``diff = mean(a - b)`` over users.

    ``low``/``high`` is the ``level`` interval of ``diff`` (paired t, or percentile
    bootstrap over users: ``ci_method``); ``p_value`` the two-sided paired t-test of
    ``diff = 0`` (whichever ``ci_method`` gave the interval); ``n`` the common users;
    ``relative = diff / mean_b`` (NaN when ``mean_b`` is 0).
    """

    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    n: int
    p_value: float
    relative: float
    level: float = 0.95
    ci_method: str = "t"

    def excludes_zero(self) -> bool:
        """The interval lies wholly on one side of zero (A and B differ)."""
        return self.low > 0 or self.high < 0

    def above_zero(self) -> bool:
        """The interval lies wholly above zero ("A beats B")."""
        return self.low > 0

    def text(self, digits: int = 3) -> str:
        """``paired diff +0.012 [+0.004, +0.020], n = 325``."""
        def signed(value: float) -> str:
            return f"{value:+.{digits}f}" if math.isfinite(value) else "nan"
        return (f"paired diff {signed(self.diff)} [{signed(self.low)}, {signed(self.high)}], "
                f"n = {self.n}")

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Plain JSON values: floats (NaN or infinite -> None), ``n`` an int."""
        out: dict[str, float | int | str | None] = {}
        for key, value in asdict(self).items():
            if isinstance(value, str):
                out[key] = value
            elif key == "n":
                out[key] = int(value)
            else:
                out[key] = float(value) if math.isfinite(value) else None
        return out


def paired_difference(a: pd.Series, b: pd.Series, *, method: str = "t", n_boot: int = 10_000,
                      seed: int = 0, level: float = 0.95) -> PairedDifference:
    """Compare two methods scored on the same users (``a`` minus ``b``).

    ``a`` and ``b`` are per-user values indexed by user id. A user with several rows (one
    per seed) is averaged first, as ``summarise`` does; the two are then aligned on the
    users present (and not NaN) in both. Users are the independent unit, and a user's
    scores under two methods are correlated (easy users are easy for both), so the
    interval is on the per-user differences: far tighter than comparing two separate
    intervals, and the right test of "A beats B on these users".

    ``method="t"``: the paired t interval ``mean(d) ± t_{(1+level)/2, n-1}·sd(d)/sqrt(n)``.
    ``method="bootstrap"``: the percentile interval of ``mean(d)`` over ``n_boot``
    resamples of users (``numpy.random.default_rng(seed)``), a check on the t interval
    that assumes nothing of the shape of ``d``. Raises ``ValueError`` with fewer than two
    common users, an unknown ``method`` or a ``level`` outside (0, 1).
    """
    from scipy import stats

    if method not in ("t", "bootstrap"):
        raise ValueError(f"method must be 't' or 'bootstrap', not {method!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    joined = pd.concat([_per_user_mean(a, "a"), _per_user_mean(b, "b")], axis=1,
                       join="inner").dropna()
    n = len(joined)
    if n < 2:
        raise ValueError(f"paired_difference needs at least 2 users scored by both methods, "
                         f"found {n} (a: {a.index.nunique()} users, b: {b.index.nunique()})")
    values_a, values_b = joined["a"].to_numpy(float), joined["b"].to_numpy(float)
    d = values_a - values_b
    diff, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    if se > 0:
        p_value = float(2 * stats.t.sf(abs(diff) / se, n - 1))
    else:  # every user differs by the same amount
        p_value = 1.0 if diff == 0 else 0.0
    if method == "t":
        half = float(stats.t.ppf((1 + level) / 2, n - 1)) * se
        low, high = diff - half, diff + half
    else:
        low, high = _bootstrap_mean_interval(d, n_boot, seed, level)
    mean_a, mean_b = float(values_a.mean()), float(values_b.mean())
    relative = diff / mean_b if mean_b != 0 else math.nan
    return PairedDifference(mean_a, mean_b, diff, float(low), float(high), n, p_value,
                            relative, level, method)


def _per_user_mean(values: pd.Series, name: str) -> pd.Series:
    """One value per user (rows of the same user averaged), named ``name``."""
    if not isinstance(values, pd.Series):
        raise TypeError(f"expected a pandas Series indexed by user, got {type(values).__name__}")
    return values.astype(float).groupby(level=0, sort=False).mean().rename(name)


def _bootstrap_mean_interval(d: np.ndarray, n_boot: int, seed: int,
                             level: float) -> tuple[float, float]:
    """Percentile interval of the mean of ``d`` over users resampled with replacement."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // d.size)  # bound the memory of the index matrix
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        means[start:stop] = d[rng.integers(0, d.size, size=(stop - start, d.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def paired_table(per_user: pd.DataFrame, method_col: str, metric: str, reference: str,
                 user_col: str = "user", *, method: str = "t", n_boot: int = 10_000,
                 seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Every method of a long per-user table against ``reference``, paired on users.

    ``per_user`` has one row per (method, user[, seed]); a user's seeds are averaged
    first. One row per method other than ``reference`` (in order of appearance) with the
    fields of ``PairedDifference`` (``mean_a`` is the method's, ``mean_b`` the
    reference's). Raises ``ValueError`` when ``reference`` is not in ``method_col``.
    """
    names = {f.name for f in fields(PairedDifference)}
    if method_col in names | {"reference"}:
        raise ValueError(f"method_col {method_col!r} clashes with a column of the result")
    methods = list(pd.unique(per_user[method_col]))
    if reference not in methods:
        raise ValueError(f"reference {reference!r} not in column {method_col!r}: {methods}")

    def scores(name: str) -> pd.Series:
        rows = per_user[per_user[method_col] == name]
        return rows.set_index(user_col)[metric]

    base = scores(reference)
    rows = [{method_col: name, "reference": reference,
             **asdict(paired_difference(scores(name), base, method=method, n_boot=n_boot,
                                        seed=seed, level=level))}
            for name in methods if name != reference]
    return pd.DataFrame(rows, columns=[method_col, "reference",
                                       *(f.name for f in fields(PairedDifference))])
