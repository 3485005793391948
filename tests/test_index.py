"""Tests for newsstudy.index (faiss NewsIndex) and newsstudy.retrieval (Retriever)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsstudy.embed import normalise_rows
from newsstudy.index import MISSING_ID, NewsIndex
from newsstudy.retrieval import Retriever

DIM = 16


def unit_rows(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """``n`` random unit rows."""
    return normalise_rows(np.random.default_rng(seed).normal(size=(n, dim)))


def article_ids(n: int) -> np.ndarray:
    """Article ids that are not row numbers."""
    return np.arange(n, dtype=np.int64) * 7 + 1000


class WordEmbedder:
    """Bag of hashed words -> unit vector (fast, deterministic, no model)."""

    name = "words"
    dim = DIM

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts, show_progress=False):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                seed = sum(word.encode("utf-8", "replace"))
                out[i] += np.random.default_rng(seed).normal(size=self.dim)
        return normalise_rows(out)


@pytest.fixture
def retriever() -> Retriever:
    """A retriever over 60 random articles with a word-hash embedder."""
    vectors = unit_rows(60)
    return Retriever(NewsIndex(article_ids(60), vectors), WordEmbedder(), k_per_query=5)


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_own_vector_is_top1_and_ids_are_article_ids(kind):
    vectors, ids = unit_rows(200), article_ids(200)
    scores, found = NewsIndex(ids, vectors, kind=kind).search(vectors, 3)
    np.testing.assert_array_equal(found[:, 0], ids)
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert scores.dtype == np.float32 and found.dtype == np.int64
    assert np.isin(found, ids).all()
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_k_larger_than_index_pads_with_missing():
    index = NewsIndex(article_ids(4), unit_rows(4))
    scores, ids = index.search(unit_rows(3, seed=1), 10)
    assert scores.shape == ids.shape == (3, 10)
    assert (ids[:, 4:] == MISSING_ID).all() and (scores[:, 4:] == 0).all()
    assert sorted(ids[0, :4]) == sorted(article_ids(4))


def test_empty_index_and_empty_queries():
    empty = NewsIndex(np.array([], np.int64), np.zeros((0, DIM), np.float32))
    scores, ids = empty.search(unit_rows(2), 3)
    assert (ids == MISSING_ID).all() and (scores == 0).all()
    scores, ids = NewsIndex(article_ids(5), unit_rows(5)).search(np.zeros((0, DIM)), 3)
    assert scores.shape == ids.shape == (0, 3)


def test_bad_inputs_raise_clearly():
    with pytest.raises(ValueError, match="vectors"):
        NewsIndex(article_ids(3), unit_rows(4))
    with pytest.raises(ValueError, match="unique"):
        NewsIndex(np.array([1, 1, 2]), unit_rows(3))
    with pytest.raises(ValueError, match="kind"):
        NewsIndex(article_ids(3), unit_rows(3), kind="ivf")
    index = NewsIndex(article_ids(3), unit_rows(3))
    with pytest.raises(ValueError, match="k must"):
        index.search(unit_rows(1), 0)
    with pytest.raises(ValueError, match="dim"):
        index.search(unit_rows(1, dim=DIM + 1), 1)


def test_hnsw_agrees_with_exact_on_top10():
    vectors, ids = unit_rows(3000, dim=32), article_ids(3000)
    queries = unit_rows(200, dim=32, seed=5)
    _, exact = NewsIndex(ids, vectors).search(queries, 10)
    _, approx = NewsIndex(ids, vectors, kind="hnsw").search(queries, 10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx, strict=True)])
    assert overlap >= 0.9


def test_search_queries_blank_queries_have_no_hits(retriever):
    scores, ids = retriever.search_queries(["economy growth", "", "   ", "economy growth"])
    assert (ids[1:3] == MISSING_ID).all() and (scores[1:3] == 0).all()
    assert (ids[0] != MISSING_ID).all()
    np.testing.assert_array_equal(ids[0], ids[3])
    assert retriever.embedder.calls == [["economy growth"]]


def test_retrieve_batches_everything_in_one_embedding_call(retriever):
    retriever.retrieve([["a b", "c"], ["c", "d e"], []], "round_robin")
    assert retriever.embedder.calls == [["a b", "c", "d e"]]


@pytest.mark.parametrize("fusion", ["round_robin", "rrf"])
def test_retrieve_no_duplicates_and_top_n(retriever, fusion):
    lists = [["economy growth", "stock market", "football"], ["economy growth"] * 3,
             [], ["", ""], ["\ud800\x00 ☃☃ \ufffe", "🙂" * 300]]
    rankings = retriever.retrieve(lists, fusion=fusion, top_n=7)
    assert len(rankings) == len(lists)
    for ranking in rankings:
        assert len(ranking) == len(set(ranking)) <= 7
        assert all(isinstance(i, int) and i != MISSING_ID for i in ranking)
    assert len(rankings[0]) == 7 and len(rankings[1]) == 5
    assert rankings[2] == [] and rankings[3] == []


def test_round_robin_takes_each_query_top1_first(retriever):
    _, ids = retriever.search_queries(["economy growth", "stock market"])
    ranking = retriever.retrieve([["economy growth", "stock market"]], "round_robin", top_n=2)[0]
    assert ranking[0] == ids[0, 0]
    assert ranking[1] == (ids[1, 0] if ids[1, 0] != ids[0, 0] else ids[0, 1])


def test_retrieve_rejects_bad_arguments(retriever):
    with pytest.raises(ValueError, match="fusion"):
        retriever.retrieve([["x"]], fusion="borda")
    with pytest.raises(ValueError, match="k must"):
        retriever.retrieve([], "round_robin", top_n=0)
    with pytest.raises(TypeError, match="query 0"):
        retriever.search_queries([None])
    with pytest.raises(ValueError, match="8-d vectors"):
        Retriever(NewsIndex(article_ids(3), unit_rows(3, dim=8)), WordEmbedder(), 10)


def test_hits_for_lists_shapes(retriever):
    hits = retriever.hits_for_lists([["a", "b"], [], ["c"]])
    assert [h[0].shape for h in hits] == [(2, 5), (0, 5), (1, 5)]
    assert all(h[1].dtype == np.int64 and h[0].dtype == np.float32 for h in hits)
    assert retriever.hits_for_lists([]) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(max_size=40), max_size=5), max_size=4),
       st.sampled_from(["round_robin", "rrf"]))
def test_retrieve_never_raises_with_static_model(static_embedder, query_lists, fusion):
    vectors = static_embedder.encode([f"article about topic {i}" for i in range(30)])
    index = NewsIndex(article_ids(30), vectors)
    rankings = Retriever(index, static_embedder, 10).retrieve(query_lists, fusion=fusion,
                                                              top_n=20)
    assert len(rankings) == len(query_lists)
    assert all(len(r) == len(set(r)) <= 20 for r in rankings)
