"""The shared offline evaluation protocol (every method is scored the same way).

Serving path as in the paper: each query of a list retrieves its top-k articles from the
ANN index of articles on offer in the test window; the per-query hits are fused into one
ranking; Recall@5/10, NDCG@5/10 and MRR are computed against the user's held-out clicks
over that whole index (no candidate sampling).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from newsstudy.metrics import DEFAULT_METRICS, evaluate_users
from newsstudy.output_format import parse_completion
from newsstudy.retrieval import Retriever


def serving_retriever(world, backend: str = "minilm", index_kind: str = "exact",
                      k_per_query: int = 10) -> Retriever:
    """The evaluation retriever: the test-window index in the given embedder's space."""
    from newsstudy.index import NewsIndex

    index = NewsIndex.from_world(world, which="test", backend=backend, kind=index_kind)
    return Retriever(index, backend, k_per_query=k_per_query)


def evaluate_completions(world, retriever: Retriever, completions: Mapping[int, str],
                         fusion: str = "round_robin", top_n: int = 100,
                         metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Per-user ranking metrics of completions (user -> text); users without clicks skipped."""
    users = [u for u in completions if u in world.truth()]
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
    Only a simulation can measure this; nothing in training or the rewards sees it.
    """
    from newsstudy.strategies import topic_centroids

    centroids = topic_centroids(world, embedder)
    latent = {int(u): g for u, g in world.interests.groupby("user_id")}
    users = list(completions)
    query_lists = [list(parse_completion(completions[u]).queries) for u in users]
    flat = [q for qs in query_lists for q in qs]
    topics = (embedder.encode(flat) @ centroids.T).argmax(axis=1) if flat else []
    rows, start = [], 0
    for user, queries in zip(users, query_lists, strict=True):
        hit_topics = set(topics[start:start + len(queries)].tolist()) if queries else set()
        start += len(queries)
        mine = latent.get(int(user))
        followed = dict(zip(mine["topic"], mine["weight"], strict=True)) if mine is not None else {}
        rows.append({
            "user": user,
            "interest_coverage": sum(w for t, w in followed.items() if t in hit_topics),
            "query_precision": (np.mean([t in followed for t in topics[start - len(queries):start]])
                                if queries else 0.0),
        })
    return pd.DataFrame(rows).set_index("user")


def evaluate_policy(world, serving: Retriever, complete: Callable[[list[int]], Mapping[int, str]],
                    users: Sequence[int], latent_embedder=None, fusion: str = "round_robin"
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
