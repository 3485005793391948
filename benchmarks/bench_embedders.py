"""Benchmark: query embedding speed of ``minilm`` vs ``static``, and how far they agree.

Queries are realistic short search strings: the first 2-5 words of real article titles
(distinct texts, embedded by the raw backends, so no cache helps). Agreement: each
backend retrieves the top ``--k`` articles per query from an exact index over all
corpus articles (each index built with its own backend); the figures are the mean
overlap@k (|A & B| / k) and mean Jaccard (|A & B| / |A | B|) of the two id sets. One
line per figure::

    .venv/bin/python benchmarks/bench_embedders.py --queries 5000

MiniLM's rate depends heavily on CPU contention (torch's threads oversubscribe a busy
machine); the static backend is single-threaded numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from newsstudy import embed  # noqa: E402
from newsstudy.embed import CachedEmbedder, get_embedder  # noqa: E402
from newsstudy.index import NewsIndex  # noqa: E402
from newsstudy.world import corpus


def make_queries(titles: list[str], n: int, seed: int) -> list[str]:
    """``n`` distinct queries: the first 2-5 words of randomly drawn titles."""
    rng = np.random.default_rng(seed)
    words = [title.split() for title in titles if len(title.split()) >= 2]
    queries: dict[str, None] = {}
    for _ in range(50 * n):
        if len(queries) == n:
            break
        title = words[rng.integers(len(words))]
        queries[" ".join(title[: rng.integers(2, 6)])] = None
    return list(queries)


def queries_per_second(embedder, queries: list[str]) -> tuple[float, np.ndarray]:
    """Throughput of one ``encode`` call over all queries (after a small warm-up)."""
    embedder.encode(["warm up the model", "and its tokenizer"])
    start = time.perf_counter()
    vectors = embedder.encode(queries)
    return len(queries) / (time.perf_counter() - start), vectors


def agreement(ids_a: np.ndarray, ids_b: np.ndarray) -> tuple[float, float]:
    """Mean overlap@k and mean Jaccard of two [n, k] id arrays."""
    k = ids_a.shape[1]
    overlaps, jaccards = [], []
    for a, b in zip(ids_a, ids_b, strict=True):
        common = len(set(a) & set(b))
        overlaps.append(common / k)
        jaccards.append(common / len(set(a) | set(b)))
    return float(np.mean(overlaps)), float(np.mean(jaccards))


def distillation_line(embedder) -> str:
    """How long the static model took to distil (now, or when it was cached)."""
    if embedder.distill_seconds is not None:
        return f"static distillation (this run): {embedder.distill_seconds:.1f} s"
    info_path = embed.static_model_dir() / "newsstudy_distill.json"
    if info_path.exists():
        seconds = json.loads(info_path.read_text())["distill_seconds"]
        return f"static distillation: cached (took {seconds:.1f} s when made)"
    return "static distillation: cached"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=5000, help="distinct queries")
    parser.add_argument("--k", type=int, default=10, help="articles per query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch intra-op threads for minilm (default: torch's choice); "
                             "1 avoids oversubscription when other processes share the CPU")
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)

    articles = corpus.load_articles()
    texts = corpus.article_text(articles)
    queries = make_queries(articles["title"].tolist(), args.queries, args.seed)
    print(f"articles: {len(articles)}; distinct queries: {len(queries)}")

    started = time.perf_counter()
    static = get_embedder("static", cached=False)
    print(f"static load: {time.perf_counter() - started:.1f} s")
    print(distillation_line(static))
    started = time.perf_counter()
    minilm = get_embedder("minilm", cached=False)
    print(f"minilm load: {time.perf_counter() - started:.1f} s")

    ids = {}
    for embedder in (minilm, static):
        rate, vectors = queries_per_second(embedder, queries)
        print(f"{embedder.name} queries/s: {rate:,.0f}")
        index = NewsIndex(articles["article_id"].to_numpy(),
                          embed.embed_cached(texts, embedder.name))
        ids[embedder.name] = index.search(vectors, args.k)[1]

    cached = CachedEmbedder(static)
    cached.encode(queries)
    rate, _ = queries_per_second(cached, queries)
    print(f"static queries/s, all cache hits: {rate:,.0f}")
    overlap, jaccard = agreement(ids["minilm"], ids["static"])
    print(f"top-{args.k} overlap@{args.k} static vs minilm: {overlap:.3f}")
    print(f"top-{args.k} Jaccard static vs minilm: {jaccard:.3f}")


if __name__ == "__main__":
    main()
