"""The shared offline evaluation protocol (every method is scored the same way).

Serving path as in the paper: each query of a list retrieves its top-k articles from the
ANN index of articles on offer in the test window; the per-query hits are fused into one
ranking; Recall@5/10, NDCG@5/10 and MRR are computed against the user's held-out clicks
over that whole index (no candidate sampling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
