"""The ANN news index: article vectors in faiss, searched by query vectors.

Serving path (PAPER.md, "Serving"): every generated query retrieves its top-k articles
from an ANN index over the news corpus. :class:`NewsIndex` holds unit-norm article
vectors, so inner product = cosine, in one of two faiss indexes:

* ``kind="exact"``: ``IndexFlatIP``, brute force. At this study's scale (a few thousand
  articles) it is both exact and fast, so it is the default.
* ``kind="hnsw"``: ``IndexHNSWFlat`` (inner-product metric), the approximate graph index
  a production system would use; ``hnsw_m`` links per node, ``ef_search`` candidates per
  query (more = closer to exact, slower). Built from the vectors in the given order, so
  it is deterministic for the same input.

``search`` returns *article ids*, not row numbers. When ``k`` exceeds the number of
articles (or HNSW finds fewer than ``k``), the missing slots hold id ``-1`` with score
``0.0``; real hits always come first, best first.

faiss's OpenMP thread count is left at its default (all cores); set
``faiss.omp_set_num_threads`` in the caller if a process must share the CPU.
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np

IndexKind = Literal["exact", "hnsw"]
Which = Literal["test", "history", "all"]

MISSING_ID = -1
"""Article id of an empty slot in search results (its score is 0.0)."""

_WHICH_COLUMN = {"test": "in_test_index", "history": "in_history_index", "all": None}


def _as_matrix(vectors: np.ndarray, name: str) -> np.ndarray:
    """A C-contiguous float32 2-d array, or ``ValueError`` naming ``name``."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-d [n, dim], got shape {array.shape}")
    return array


def _build_faiss(vectors: np.ndarray, kind: str, hnsw_m: int, ef_search: int) -> faiss.Index:
    """A faiss inner-product index of ``kind`` holding ``vectors``."""
    dim = vectors.shape[1]
    if kind == "exact":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = ef_search
    else:
        raise ValueError(f"kind must be 'exact' or 'hnsw', got {kind!r}")
    if len(vectors):
        index.add(vectors)
    return index


class NewsIndex:
    """Top-k cosine search over articles; results are article ids (see module doc)."""

    def __init__(self, article_ids: np.ndarray, vectors: np.ndarray,
                 kind: IndexKind = "exact", hnsw_m: int = 32, ef_search: int = 128):
        self.article_ids = np.asarray(article_ids, dtype=np.int64).reshape(-1)
        vectors = _as_matrix(vectors, "vectors")
        if len(vectors) != len(self.article_ids):
            raise ValueError(f"{len(self.article_ids)} article ids but {len(vectors)} vectors")
        if len(np.unique(self.article_ids)) != len(self.article_ids):
            raise ValueError("article ids must be unique")
        self.kind = kind
        self.dim = int(vectors.shape[1])
        self._index = _build_faiss(vectors, kind, hnsw_m, ef_search)

    def __len__(self) -> int:
        return len(self.article_ids)

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores float32 [n, k], article ids int64 [n, k]) per query row.

        Slots without a hit hold id ``-1`` and score ``0.0``. An all-zero query row
        scores 0 against everything; callers that mean "no query" should mask it.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got k={k!r}")
        queries = _as_matrix(query_vectors, "query_vectors")
        if queries.shape[1] != self.dim:
            raise ValueError(f"query dim {queries.shape[1]} != index dim {self.dim}")
        scores = np.zeros((len(queries), k), dtype=np.float32)
        ids = np.full((len(queries), k), MISSING_ID, dtype=np.int64)
        found = min(int(k), len(self))
        if found == 0 or len(queries) == 0:
            return scores, ids
        raw_scores, rows = self._index.search(queries, found)
        hit = rows >= 0
        ids[:, :found] = np.where(hit, self.article_ids[np.where(hit, rows, 0)], MISSING_ID)
        scores[:, :found] = np.where(hit, raw_scores, 0.0)
        return scores, ids

    @classmethod
    def from_world(cls, world, which: Which = "test", backend: str = "minilm",
                   kind: IndexKind = "exact", **index_options) -> NewsIndex:
        """Index a world's articles: ``which`` = ``"test"`` / ``"history"`` / ``"all"``.

        ``"test"`` and ``"history"`` select by the ``in_test_index`` / ``in_history_index``
        columns. Vectors come from ``world.article_vectors(backend)``.
        """
        if which not in _WHICH_COLUMN:
            raise ValueError(f"which must be one of {sorted(_WHICH_COLUMN)}, got {which!r}")
        articles = world.articles
        column = _WHICH_COLUMN[which]
        mask = np.ones(len(articles), bool) if column is None else articles[column].to_numpy(bool)
        vectors = world.article_vectors(backend)
        return cls(articles["article_id"].to_numpy()[mask], np.asarray(vectors)[mask],
                   kind=kind, **index_options)
