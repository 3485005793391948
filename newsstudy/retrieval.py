"""Query lists -> ranked article lists: the paper's serving path.

A policy writes a list of search queries per user. :class:`Retriever` embeds every query,
takes its top ``k_per_query`` articles from a :class:`~newsstudy.index.NewsIndex`, and
fuses each list's per-query hit lists into one ranking with a method from
:data:`newsstudy.fusion.FUSION` (``"round_robin"`` or ``"rrf"``).

For speed, all queries of all lists go through one embedding call (distinct texts only)
and one faiss search. Any string is accepted: a blank query (empty or whitespace only)
is not embedded and has no hits (ids ``-1``, scores ``0``); a query list with no
queries, or only blank ones, gets an empty ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from newsstudy.embed import Embedder, get_embedder
from newsstudy.fusion import FUSION
from newsstudy.index import MISSING_ID, NewsIndex

Hits = tuple[np.ndarray, np.ndarray]
"""(scores float32 [q, k], article ids int64 [q, k]) for q queries, best first."""


def _check_queries(queries: Sequence[str]) -> list[str]:
    """The queries as a list of str, or ``TypeError`` naming the first bad item."""
    queries = list(queries)
    for position, query in enumerate(queries):
        if not isinstance(query, str):
            raise TypeError(f"query {position} is {type(query).__name__}, not str: {query!r}")
    return queries


class Retriever:
    """Retrieve and fuse articles for lists of queries (see module doc).

    ``embedder`` is an embedder object or a backend name for
    :func:`newsstudy.embed.get_embedder`; it must be the backend the index was built with.
    """

    def __init__(self, index: NewsIndex, embedder: Embedder | str, k_per_query: int):
        if isinstance(k_per_query, bool) or not isinstance(k_per_query, int) or k_per_query < 1:
            raise ValueError(f"k_per_query must be a positive integer, got {k_per_query!r}")
        self.index = index
        self.embedder = get_embedder(embedder) if isinstance(embedder, str) else embedder
        if self.embedder.dim != index.dim:
            raise ValueError(f"embedder {self.embedder.name!r} gives {self.embedder.dim}-d "
                             f"vectors but the index holds {index.dim}-d vectors")
        self.k_per_query = k_per_query

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """float32 [n, dim]: each distinct non-blank query embedded once; blank -> zeros."""
        queries = _check_queries(queries)
        vectors = np.zeros((len(queries), self.index.dim), dtype=np.float32)
        distinct = list(dict.fromkeys(q for q in queries if q.strip()))
        if distinct:
            rows = self.embedder.encode(distinct)
            position = {text: i for i, text in enumerate(distinct)}
            for i, query in enumerate(queries):
                if query in position:
                    vectors[i] = rows[position[query]]
        return vectors

    def search_queries(self, queries: Sequence[str]) -> Hits:
        """Top ``k_per_query`` (scores [n, k], article ids [n, k]) per query, in order."""
        queries = _check_queries(queries)
        scores, ids = self.index.search(self.embed_queries(queries), self.k_per_query)
        blank = np.array([not q.strip() for q in queries], dtype=bool)
        scores[blank], ids[blank] = 0.0, MISSING_ID
        return scores, ids

    def hits_for_lists(self, query_lists: Sequence[Sequence[str]]) -> list[Hits]:
        """Per query list, its queries' (scores [q, k], ids [q, k]); one search for all."""
        lists = [_check_queries(queries) for queries in query_lists]
        scores, ids = self.search_queries([q for queries in lists for q in queries])
        bounds = np.cumsum([0] + [len(queries) for queries in lists])
        return [(scores[start:end], ids[start:end])
                for start, end in pairwise(bounds)]

    def retrieve(self, query_lists: Sequence[Sequence[str]], fusion: str,
                 top_n: int = 100) -> list[list[int]]:
        """Per query list, its fused ranking of article ids (no duplicates, <= ``top_n``)."""
        if fusion not in FUSION:
            raise ValueError(f"unknown fusion {fusion!r} (known: {', '.join(FUSION)})")
        fuse = FUSION[fusion]
        fuse([], k=top_n)  # rejects a bad top_n even when there is nothing to fuse
        rankings = []
        for _, ids in self.hits_for_lists(query_lists):
            hit_lists = [[int(i) for i in row if i != MISSING_ID] for row in ids]
            rankings.append([int(i) for i in fuse(hit_lists, k=top_n)])
        return rankings
