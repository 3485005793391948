"""Best-of-N sampling (notebook 04): pick one of N sampled lists per user by a selector.

Best-of-N is estimated without re-sampling: each user has ``n_max`` samples; for each N,
``n_draws`` random subsets of N of them are drawn (without replacement), the chosen
sample's metric is averaged over the draws. Choosing by the composite reward needs no
ground truth; choosing by Recall@10 (the oracle) is an upper bound; the union fuses the
queries of all N lists into one ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from newsstudy.scaling.compute import inference_flops


def best_of_n(samples: pd.DataFrame, ns: Sequence[int], select_by: str, metrics: Sequence[str],
              n_draws: int, seed: int = 0) -> pd.DataFrame:
    """Mean metric per user when one of N samples is chosen by ``select_by`` (highest wins).

    ``samples`` has one row per (``user``, ``sample``) with the ``select_by`` column and
    the ``metrics`` columns. Returns one row per (user, N) with the chosen sample's metrics
    averaged over ``n_draws`` random subsets (one subset when N is all the samples).
    Ties go to the lower sample index.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for user, group in samples.sort_values(["user", "sample"]).groupby("user", sort=True):
        score = group[select_by].to_numpy(dtype=float)
        values = group[list(metrics)].to_numpy(dtype=float)
        n_max = len(group)
        for n in ns:
            if n > n_max:
                raise ValueError(f"N = {n} but user {user} has only {n_max} samples")
            draws = 1 if n == n_max else n_draws
            chosen = np.empty((draws, len(metrics)))
            for d in range(draws):
                subset = np.sort(rng.choice(n_max, size=n, replace=False))
                chosen[d] = values[subset[np.argmax(score[subset])]]
            rows.append({"user": user, "n": n, **dict(zip(metrics, chosen.mean(axis=0),
                                                          strict=True))})
    return pd.DataFrame(rows)


def union_query_lists(lists: Sequence[Sequence[str]]) -> list[str]:
    """The queries of several lists as one list, in round-robin order, duplicates dropped."""
    merged: dict[str, None] = {}
    longest = max((len(q) for q in lists), default=0)
    for position in range(longest):
        for queries in lists:
            if position < len(queries):
                merged.setdefault(queries[position].strip(), None)
    merged.pop("", None)
    return list(merged)


def score_samples(world, serving, scorer, samples: Mapping[int, Sequence[str]],
                  metrics: Sequence[str] = ("recall@10", "ndcg@10"), *, fusion: str
                  ) -> pd.DataFrame:
    """One row per (user, sample): the composite reward ``total`` and ranking ``metrics``.

    ``samples`` maps a user to their sampled completions. Users without held-out clicks
    are dropped (they cannot be scored). Retrieval and reward scoring are batched.
    """
    from newsstudy.output_format import parse_completion

    truth = world.truth(list(samples))
    users = [u for u in samples if u in truth]
    keys = [(u, j) for u in users for j in range(len(samples[u]))]
    texts = [samples[u][j] for u, j in keys]
    rewards = scorer.score([u for u, _ in keys], texts)
    frame = pd.DataFrame({"user": [u for u, _ in keys], "sample": [j for _, j in keys],
                          "total": rewards["total"].to_numpy()})
    lists = [list(parse_completion(t).queries) for t in texts]
    return frame.join(_ranking_metrics(serving, lists, [truth[u] for u, _ in keys], metrics,
                                       fusion))


def union_scores(world, serving, samples: Mapping[int, Sequence[str]], ns: Sequence[int],
                 metrics: Sequence[str] = ("recall@10", "ndcg@10"), *, fusion: str
                 ) -> pd.DataFrame:
    """Per (user, N): metrics of one ranking from the union of the user's first N lists."""
    from newsstudy.output_format import parse_completion

    truth = world.truth(list(samples))
    users = [u for u in samples if u in truth]
    keys = [(u, n) for n in ns for u in users]
    lists = [union_query_lists([parse_completion(t).queries for t in samples[u][:n]])
             for u, n in keys]
    frame = pd.DataFrame({"user": [u for u, _ in keys], "n": [n for _, n in keys]})
    return frame.join(_ranking_metrics(serving, lists, [truth[u] for u, _ in keys], metrics,
                                       fusion))


def _ranking_metrics(serving, query_lists, relevant, metrics, fusion) -> pd.DataFrame:
    """Metrics of each query list's fused ranking against its relevant set, in order
    (a frame indexed 0..n-1, so it joins row by row)."""
    from newsstudy.metrics import evaluate_users

    rankings = serving.retrieve(query_lists, fusion=fusion, top_n=100)
    scored = evaluate_users(dict(enumerate(rankings)), dict(enumerate(relevant)), metrics)
    return scored.reset_index(drop=True)


def random_pick(samples: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per user, the expected metrics of a list picked at random: the mean over its samples.

    The same for every N (a random one of N random samples is a random sample), so it is
    the baseline each N's pick is paired with.
    """
    return samples.groupby("user")[list(metrics)].mean()


def pick_gains(picked: pd.DataFrame, baseline: pd.DataFrame, metric: str = "recall@10"
               ) -> pd.DataFrame:
    """Per N: mean gain of a pick over the random pick on the same users, with its 95% interval.

    ``picked``: one row per (user, n) (:func:`best_of_n`); ``baseline``: per-user values
    indexed by user (:func:`random_pick`). Paired over users
    (:func:`newsstudy.evaluation.paired_difference`, t interval).
    """
    from newsstudy.evaluation import paired_difference

    rows = []
    for n, group in picked.groupby("n", sort=True):
        d = paired_difference(group.set_index("user")[metric], baseline[metric])
        rows.append({"N": int(n), "gain": d.diff, "low": d.low, "high": d.high, "n": d.n,
                     "p_value": d.p_value})
    return pd.DataFrame(rows)


def diminishing_returns(picked: pd.DataFrame, metric: str = "recall@10", split: int = 4
                        ) -> dict[str, float]:
    """Is the gain per doubling of N smaller after ``split`` than before it?

    Per user: ``early`` = (pick at ``split`` - pick at the smallest N) / doublings from the
    smallest N to ``split``; ``late`` = (pick at the largest N - pick at ``split``) /
    doublings from ``split`` to the largest N. Returns both means and the paired difference
    ``early - late`` with its 95% interval: diminishing returns hold clearly when the
    interval lies above zero. ``ValueError`` if ``split`` is not strictly between the
    smallest and largest N sampled.
    """
    from newsstudy.evaluation import paired_difference

    wide = picked.pivot_table(index="user", columns="n", values=metric)
    ns = sorted(int(n) for n in wide.columns)
    if split not in ns or not ns[0] < split < ns[-1]:
        raise ValueError(f"split N = {split} must be one of the sampled N strictly between "
                         f"{ns[0]} and {ns[-1]}; sampled: {ns}")
    early = (wide[split] - wide[ns[0]]) / np.log2(split / ns[0])
    late = (wide[ns[-1]] - wide[split]) / np.log2(ns[-1] / split)
    d = paired_difference(early, late)
    return {"split": split, "first_n": ns[0], "last_n": ns[-1],
            "early_gain_per_doubling": float(early.mean()),
            "late_gain_per_doubling": float(late.mean()),
            "difference": d.diff, "low": d.low, "high": d.high, "n": d.n, "p_value": d.p_value,
            "holds": bool(d.low > 0)}


@dataclass(frozen=True)
class BestOfN:
    """Best-of-N from one policy's samples, for every N: the table of the picks (reward,
    random, oracle and, when given, the learned verifier) and the union, each pick's
    paired gains over a random pick, and the reward's and the verifier's picks per user
    (for the diminishing-returns test)."""

    table: pd.DataFrame
    gains: pd.DataFrame
    oracle_gains: pd.DataFrame
    selected: pd.DataFrame
    verifier_gains: pd.DataFrame | None = None
    verifier_selected: pd.DataFrame | None = None


def best_of_n_study(world, serving, scorer, drawn: Mapping[int, tuple[Sequence[str], Sequence[int]]],
                    ns: Sequence[int], n_draws: int, seed: int, fusion: str,
                    verifier_scores: pd.DataFrame | None = None) -> BestOfN:
    """Score every sampled list once, then pick among N of a user's lists by the composite
    reward (the paper's method), at random, by Recall@10 (an oracle) and, with
    ``verifier_scores`` (``user``, ``sample``, ``verifier``), by the learned verifier,
    averaged over ``n_draws`` random N-subsets; and fuse all N lists into one ranking
    (the union).

    ``drawn``: user -> (lists, generated tokens of each), as ``PolicyPipeline.complete``
    returns with ``return_counts=True``.
    """
    from newsstudy.scaling.tables import best_of_n_table, half_width

    samples = {u: texts for u, (texts, _) in drawn.items()}
    scored = score_samples(world, serving, scorer, samples, fusion=fusion)
    metrics = ("recall@10", "ndcg@10")
    selected = best_of_n(scored, ns, "total", metrics, n_draws, seed)
    oracle = best_of_n(scored, ns, "recall@10", metrics, n_draws, seed)
    random = random_pick(scored, metrics)
    union = union_scores(world, serving, samples, ns, fusion=fusion)
    tokens = {n: float(np.mean([sum(c[:n]) for _, c in drawn.values()])) for n in ns}
    verified = None
    if verifier_scores is not None:
        scored = scored.merge(verifier_scores[["user", "sample", "verifier"]],
                              on=["user", "sample"], how="left")
        verified = best_of_n(scored, ns, "verifier", metrics, n_draws, seed)
    table = best_of_n_table(selected, oracle, union, tokens, verified)
    table.insert(3, "R@10 random pick", random["recall@10"].mean())
    table.insert(4, "R@10 random pick ±", half_width(random["recall@10"]))
    return BestOfN(table, pick_gains(selected, random), pick_gains(oracle, random), selected,
                   pick_gains(verified, random) if verified is not None else None, verified)


def diminishing_if_testable(selected: pd.DataFrame, ns: Sequence[int], split: int = 4
                            ) -> dict | None:
    """:func:`diminishing_returns` when ``split`` lies strictly inside the sampled N (and
    at least three N were sampled); None otherwise."""
    if len(ns) >= 3 and split in ns[1:-1]:
        return diminishing_returns(selected, split=split)
    return None


def frontier_picks(records, ns, n_draws: int, seed: int) -> pd.DataFrame:
    """Per (size, user, n): R@10 / N@10 of the list the reward picks among n samples."""
    frames = []
    for r in records:
        samples = pd.DataFrame(r["samples"])
        picked = best_of_n(samples, ns, "total", ("recall@10", "ndcg@10"), n_draws, seed)
        frames.append(picked.assign(size=r["size"], params=r["params"]))
    return pd.concat(frames, ignore_index=True)


def frontier_points(records, picks: pd.DataFrame) -> pd.DataFrame:
    """Per (size, n): mean picked R@10 / N@10 with their 95% intervals over users
    (``... low`` / ``... high``), ``n users``, and inference FLOPs per user."""
    from newsstudy.evaluation import summarise

    meta = {r["size"]: r for r in records}
    points = (summarise(picks.rename(columns={"n": "N"}), by=["size", "N"],
                        columns=("recall@10", "ndcg@10"))
              .rename(columns={"n": "n users"}).rename(columns={"N": "n"}))
    points["params"] = points["size"].map(lambda s: meta[s]["params"])
    points["flops_per_user"] = [
        n * inference_flops(meta[s]["params"], meta[s]["prompt_tokens"],
                            meta[s]["generated_tokens_per_list"])
        for s, n in zip(points["size"], points["n"], strict=True)]
    return points.sort_values(["params", "n"]).reset_index(drop=True)
