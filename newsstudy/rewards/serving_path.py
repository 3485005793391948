"""Choosing the serving path on validation users (notebook 02).

The paper serves each generated query by ANN search and adds the hits as a recall path,
but does not say how many hits a query takes, how the per-query hit lists are fused, or
whether long queries are cut. Those choices decide how much any query list can retrieve,
so they are made once, here, on validation users, for the strategies that read only what
production logs (copying the signals, inferring interests), and then used by every
notebook. The grid:

- ``fusion``: ``round_robin`` or ``rrf`` (:mod:`newsstudy.fusion`);
- ``k_per_query``: hits each query takes from the index;
- ``query_words``: queries cut to their first N words, or ``None`` (whole queries).

Each query list is embedded and searched once per cut (at the largest ``k``); smaller
``k`` take the first hits of that search, so the grid costs one search per cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product

import pandas as pd

from newsstudy.evaluation import evaluate_rankings
from newsstudy.fusion import FUSION
from newsstudy.index import MISSING_ID
from newsstudy.output_format import parse_completion
from newsstudy.retrieval import Retriever

GRID = {"fusion": ("round_robin", "rrf"), "k_per_query": (5, 10, 20, 40),
        "query_words": (None, 6)}


def cut_query(query: str, query_words: int | None) -> str:
    """The query's first ``query_words`` words (the whole query for ``None``).

    >>> cut_query("a b c d", 2)
    'a b'
    """
    return query if query_words is None else " ".join(query.split()[:query_words])


def serving_grid(world, retriever: Retriever, completions: Mapping[str, Mapping[int, str]],
                 grid: Mapping[str, Sequence] = GRID, top_n: int = 100,
                 metric: str = "recall@10") -> pd.DataFrame:
    """Per-user ``metric`` for every (strategy, fusion, k_per_query, query_words) setting.

    ``completions`` maps a strategy name to its completions (user -> text). Returns a long
    table: strategy, fusion, k_per_query, query_words, user, and the metric.
    """
    k_max = max(grid["k_per_query"])
    frames = []
    for strategy, by_user in completions.items():
        users = [u for u in by_user if u in world.truth()]
        lists = [list(parse_completion(by_user[u]).queries) for u in users]
        for words in grid["query_words"]:
            cut = [[cut_query(q, words) for q in queries] for queries in lists]
            saved_k, retriever.k_per_query = retriever.k_per_query, k_max
            try:
                hits = retriever.hits_for_lists(cut)
            finally:
                retriever.k_per_query = saved_k
            for k, fusion in product(grid["k_per_query"], grid["fusion"]):
                fuse = FUSION[fusion]
                rankings = {
                    u: [int(i) for i in fuse([[int(a) for a in row[:k] if a != MISSING_ID]
                                              for row in ids], k=top_n)]
                    for u, (_, ids) in zip(users, hits, strict=True)}
                scores = evaluate_rankings(world, rankings, (metric,))[metric]
                frames.append(pd.DataFrame({
                    "strategy": strategy, "fusion": fusion, "k_per_query": k,
                    "query_words": "whole" if words is None else str(words),
                    "user": scores.index, metric: scores.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def choose(per_user: pd.DataFrame, metric: str = "recall@10") -> tuple[pd.DataFrame, dict]:
    """Mean ``metric`` per setting and strategy, and the setting with the best mean over
    strategies (ties: the first in grid order). Returns (table, chosen setting)."""
    keys = ["fusion", "k_per_query", "query_words"]
    table = per_user.pivot_table(index=keys, columns="strategy", values=metric,
                                 aggfunc="mean", sort=False)
    table["mean over strategies"] = table.mean(axis=1)
    best = table["mean over strategies"].to_numpy().argmax()
    fusion, k, words = table.index[best]
    chosen = {"fusion": fusion, "k_per_query": int(k),
              "query_words": None if words == "whole" else int(words)}
    return table.reset_index(), chosen

