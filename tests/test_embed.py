"""Tests for newsstudy.embed: the static backend, the LRU query cache, edge cases."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsstudy import embed
from newsstudy.embed import CachedEmbedder, get_embedder, normalise_rows, safe_text

TEXTS = ["stock markets fall on rate fears", "trump travel ban court ruling",
         "premier league title race", "stock markets fall on rate fears"]


class FakeEmbedder:
    """Deterministic pseudo-random unit rows per text; counts what it is asked to embed."""

    name = "fake"
    dim = 8

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts, show_progress=False):
        self.calls.append(list(texts))
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode("utf-8", "replace"))
                                          .hexdigest()[:8], 16)).normal(size=self.dim)
                for t in texts]
        return normalise_rows(np.array(rows).reshape(len(texts), self.dim))


def test_static_rows_are_unit_float32_and_deterministic(static_embedder):
    first = static_embedder.encode(TEXTS)
    assert first.dtype == np.float32 and first.shape == (4, static_embedder.dim)
    assert static_embedder.dim == embed.EMBEDDING_DIM
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first, static_embedder.encode(TEXTS))
    np.testing.assert_array_equal(first[0], first[3])
    assert static_embedder.name == "static"


def test_static_is_semantic(static_embedder):
    a, b, c = static_embedder.encode(["stock market crash", "shares plunge on wall street",
                                      "football match result"])
    assert a @ b > a @ c


def test_static_model_is_cached_as_safetensors(static_embedder):
    folder = embed.static_model_dir()
    assert (folder / "model.safetensors").exists() and (folder / "config.json").exists()
    assert not list(folder.parent.glob(".*.partial"))


@pytest.mark.parametrize("texts", [[], ()])
def test_empty_input_shape(static_embedder, texts):
    assert static_embedder.encode(texts).shape == (0, static_embedder.dim)
    assert CachedEmbedder(FakeEmbedder()).encode(texts).shape == (0, FakeEmbedder.dim)


def test_static_token_less_text_gives_zero_row(static_embedder):
    rows = static_embedder.encode(["", "news"])
    assert not rows[0].any() and np.isfinite(rows).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=6))
def test_static_never_raises_on_any_string(static_embedder, texts):
    rows = static_embedder.encode(texts + ["\ud800 lone surrogate", "\x00\ufffe"])
    assert rows.shape == (len(texts) + 2, static_embedder.dim)
    assert np.isfinite(rows).all()


def test_cached_matches_raw_and_counts(static_embedder):
    cached = CachedEmbedder(static_embedder)
    np.testing.assert_array_equal(cached.encode(TEXTS), static_embedder.encode(TEXTS))
    assert (cached.misses, cached.hits) == (3, 1)  # TEXTS[3] repeats TEXTS[0]
    again = cached.encode(TEXTS[:2] + ["new text"])
    np.testing.assert_array_equal(again[:2], static_embedder.encode(TEXTS[:2]))
    assert (cached.misses, cached.hits) == (4, 3)
    assert cached.name == "static" and cached.dim == static_embedder.dim


def test_cached_embeds_each_unseen_text_once_in_one_call():
    fake = FakeEmbedder()
    cached = CachedEmbedder(fake)
    cached.encode(["a", "b", "a"])
    cached.encode(["b", "c", "c"])
    cached.encode(["a", "c"])
    assert fake.calls == [["a", "b"], ["c"]]


def test_cached_lru_eviction():
    fake = FakeEmbedder()
    cached = CachedEmbedder(fake, max_items=2)
    cached.encode(["a", "b"])
    cached.encode(["a"])  # a is now most recent; b is evicted next
    cached.encode(["c"])
    assert len(cached) == 2
    cached.encode(["a", "b"])
    assert fake.calls[-1] == ["b"]


def test_cached_rows_equal_fresh_rows():
    fake = FakeEmbedder()
    cached = CachedEmbedder(fake)
    first = cached.encode(["x", "y"])
    np.testing.assert_array_equal(cached.encode(["y", "x"]), first[::-1])


def test_get_embedder_one_instance_per_name(static_embedder):
    assert get_embedder("static") is get_embedder("static")
    assert isinstance(get_embedder("static"), CachedEmbedder)
    assert get_embedder("static", cached=False) is static_embedder
    assert get_embedder("static").embedder is static_embedder
    with pytest.raises(ValueError, match="unknown embedder"):
        get_embedder("nope")


def test_safe_text_and_normalise_rows():
    assert safe_text("plain") == "plain"
    assert safe_text("a\ud800b").encode("utf-8")
    rows = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    assert rows.dtype == np.float32
