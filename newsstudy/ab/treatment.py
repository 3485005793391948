"""The treatment's recall path: a published policy's query lists, retrieved by ANN search.

Policies arrive published (:mod:`newsstudy.policy.published`).

**Lists, generated once per world.** As in the paper's serving design (N = 1), the policy
writes one list per user, greedily, from the user's cleaned cross-domain signals
(:func:`newsstudy.policy.prompts.build_prompts`, the same prompts it was trained on),
by actually running the checkpoint. Users with the same prompt (e.g. no signals at all)
share one generation. The prompts are generated in chunks of whole batches, each with
its own seed (:data:`CHUNK_BATCHES`), in single-thread worker processes, so both cores
generate and the lists are the same with one process or two. The lists are cached in ``artifacts/<profile>/ab/`` under the hash
of everything that determines them (world, users, checkpoint bytes, prompt and decoding
settings), written atomically, so a re-run reads them instead of generating again.

**Retrieval.** Each query is embedded once (the serving embedder) and, every test day,
searched in an ANN index (:class:`newsstudy.index.NewsIndex`) of that day's pool; a
user's per-query hits are fused round-robin (:func:`newsstudy.fusion.round_robin`:
rank 1 of every query in list order, then rank 2, ..., skipping repeats). The fusion is
vectorised over all the day's treated visitors and gives the same ranking as
:meth:`newsstudy.retrieval.Retriever.retrieve` with ``fusion="round_robin"``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from newsstudy.ab.feed import top_ranks
from newsstudy.ab.simulate import TREATMENT_PATH
from newsstudy.index import NewsIndex
from newsstudy.io import atomic_path, config_hash, read_json, write_json, write_parquet
from newsstudy.output_format import parse_completion
from newsstudy.policy.published import PublishedPolicy, checkpoint_fingerprint

LISTS_FORMAT = 2
"""Bump when the cached list files change meaning, so old ones are not reused (2: drawn
in chunks of :data:`CHUNK_BATCHES` batches, each with its own seed)."""

CHUNK_BATCHES = 16
"""Batches of prompts per generation job. The prompts, longest first as
:func:`~newsstudy.policy.generate.sample_completions` orders them, are cut into chunks of
this many whole batches, and chunk ``i`` draws with seed ``i``: every batch holds the same
prompts as in one long call, and the lists do not depend on how many processes share the
chunks (:func:`newsstudy.parallel.map_jobs`)."""

# --------------------------------------------------------------------------- generation

def generate_lists(world, users: np.ndarray, policy: PublishedPolicy, cache_dir: Path,
                   max_new_tokens: int = 64, batch_size: int = 128, log=print
                   ) -> tuple[pd.DataFrame, dict]:
    """One query list per user, decoded as the policy was served (cached; see the module doc).

    Returns ``(lists, info)``: ``lists`` has ``user_id``, ``completion``, ``queries`` (a
    list of strings, possibly empty) and ``format_ok``; ``info`` holds the cache key and
    the generation's own cost (seconds, users per second) as measured when it ran.
    """
    users = np.sort(np.asarray(users, dtype=np.int64))
    key = config_hash({
        "format": LISTS_FORMAT, "world": world.manifest["world_hash"],
        "users": config_hash(users.tolist()), "checkpoint": checkpoint_fingerprint(policy.checkpoint),
        "max_prompt_chars": policy.max_prompt_chars, "max_new_tokens": max_new_tokens,
        "max_prompt_signals": policy.max_prompt_signals,
        "prompt_candidates": policy.prompt_candidates,
        "decoding": policy.decoding or "greedy", "batch_size": batch_size,
        "chunk_batches": CHUNK_BATCHES})
    table_path = cache_dir / f"lists-{key}.parquet"
    info_path = cache_dir / f"lists-{key}.json"
    if table_path.is_file() and info_path.is_file():
        try:
            return pd.read_parquet(table_path), {**read_json(info_path), "cached": True}
        except (OSError, ValueError) as error:  # truncated or foreign: generate again
            warnings.warn(f"list cache {table_path} is unreadable ({type(error).__name__}): "
                          f"regenerating it", stacklevel=2)

    from newsstudy import parallel
    from newsstudy.policy.checkpoints import PolicyStore
    from newsstudy.policy.prompts import build_prompts

    started = time.perf_counter()
    prompts = build_prompts(world, users, policy.max_prompt_signals, policy.max_prompt_chars,
                            candidates=policy.prompt_candidates)
    prompt_seconds = time.perf_counter() - started
    distinct = list(dict.fromkeys(prompts.values()))
    log(f"generating lists with {policy.name} ({policy.checkpoint.name}) for {len(users)} users "
        f"({len(distinct)} distinct prompts)")
    _, tokenizer, _ = PolicyStore.load(policy.checkpoint)
    started = time.perf_counter()
    d = policy.decoding
    sampling = ({"greedy": True} if d is None else
                {"temperature": d["temperature"], "top_p": d["top_p"],
                 "guard": d["duplicate_guard"]})
    new_tokens = max_new_tokens if d is None else d["max_new_tokens"]
    lengths = [len(ids) for ids in tokenizer(distinct, add_special_tokens=False)["input_ids"]]
    ordered = [distinct[i] for i in sorted(range(len(distinct)), key=lambda i: (-lengths[i], i))]
    size = CHUNK_BATCHES * batch_size
    jobs = [(str(policy.checkpoint), ordered[start:start + size], sampling, new_tokens,
             batch_size, index) for index, start in enumerate(range(0, len(ordered), size))]
    texts = [text for chunk in parallel.map_jobs(generate_chunk, jobs) for text in chunk]
    completion_of = dict(zip(ordered, texts, strict=True))
    seconds = time.perf_counter() - started
    completions = [completion_of[prompts[int(u)]] for u in users]
    parsed = [parse_completion(text) for text in completions]
    lists = pd.DataFrame({"user_id": users, "completion": completions,
                          "queries": [list(p.queries) for p in parsed],
                          "format_ok": [p.format_ok for p in parsed]})
    info = {"key": key, "policy": policy.name, "checkpoint": str(policy.checkpoint),
            "source_notebook": policy.source_notebook, "n_users": int(len(users)),
            "n_distinct_prompts": len(distinct), "prompt_seconds": round(prompt_seconds, 2),
            "generation_seconds": round(seconds, 2),
            "users_per_second": round(len(users) / max(seconds, 1e-9), 1),
            "max_new_tokens": max_new_tokens}
    write_parquet(table_path, lists)
    write_json(info_path, info)  # last: the pair is complete
    return lists, {**info, "cached": False}


def generate_chunk(checkpoint: str, prompts: list[str], sampling: dict, max_new_tokens: int,
                   batch_size: int, seed: int) -> list[str]:
    """One list per prompt from the checkpoint (one generation job of
    :func:`generate_lists`; runs in a single-thread worker process)."""
    from newsstudy.policy import generate
    from newsstudy.policy.checkpoints import PolicyStore

    model, tokenizer, _ = PolicyStore.load(Path(checkpoint))
    with generate.torch_threads(1):  # small models: one thread (see generate.torch_threads)
        drawn = generate.sample_completions(model, tokenizer, prompts, n_samples=1,
                                            max_new_tokens=max_new_tokens,
                                            batch_size=batch_size, progress=False,
                                            seed=seed, **sampling)
    return [samples[0] for samples in drawn]


# --------------------------------------------------------------------------- retrieval

class QueryPath:
    """The ``query`` recall path (see the module doc) for the users that have a list.

    ``user_rows``: market rows of the users; ``query_lists``: their queries (same order);
    ``article_vectors``: unit vectors of every market article in the embedder's space.
    Query vectors are computed once here (or passed in as ``query_vectors``, one row per
    query in list order).
    """

    name = TREATMENT_PATH

    def __init__(self, user_rows: np.ndarray, query_lists: list[list[str]],
                 article_vectors: np.ndarray, embedder=None, *, index_kind: str,
                 k_per_query: int, max_queries: int,
                 query_vectors: np.ndarray | None = None):
        if len(user_rows) != len(query_lists):
            raise ValueError(f"{len(user_rows)} users but {len(query_lists)} query lists")
        lists = [list(q)[:max_queries] for q in query_lists]
        self.owner = np.repeat(np.asarray(user_rows, np.int64), [len(q) for q in lists])
        self.position = np.concatenate(
            [np.arange(len(q)) for q in lists] + [np.zeros(0, np.int64)]).astype(np.int64)
        self.max_queries = max_queries
        flat = [q for queries in lists for q in queries]
        if query_vectors is None:
            query_vectors = embed_queries(flat, embedder)
        if len(query_vectors) != len(flat):
            raise ValueError(f"{len(flat)} queries but {len(query_vectors)} query vectors")
        self.query_vectors = np.ascontiguousarray(query_vectors, dtype=np.float32)
        self.article_vectors = np.ascontiguousarray(article_vectors, dtype=np.float32)
        self.index_kind = index_kind
        self.k_per_query = k_per_query
        order = np.argsort(self.owner, kind="stable")
        self._sorted_owner = self.owner[order]
        self._order = order

    def _queries_of(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query rows, position of the owner in ``users``) of the given users' queries."""
        start = np.searchsorted(self._sorted_owner, users, side="left")
        stop = np.searchsorted(self._sorted_owner, users, side="right")
        counts = stop - start
        offsets = np.repeat(start - np.cumsum(counts) + counts, counts)
        rows = self._order[np.arange(counts.sum()) + offsets]
        return rows, np.repeat(np.arange(len(users)), counts)

    def ranks(self, users: np.ndarray, pool: np.ndarray, day: int, size: int) -> np.ndarray:
        """Ranks of the day's pool articles per user (see ``feed.RecallPath``)."""
        users = np.asarray(users, np.int64)
        key = np.full((len(users), len(pool)), np.inf)
        rows, owner_pos = self._queries_of(users)
        if len(rows) and len(pool):
            index = NewsIndex(np.arange(len(pool)), self.article_vectors[pool],
                              kind=self.index_kind)
            _, hits = index.search(self.query_vectors[rows], self.k_per_query)
            rank = np.broadcast_to(np.arange(hits.shape[1]), hits.shape)
            keys = rank * self.max_queries + self.position[rows][:, None]
            found = hits >= 0
            np.minimum.at(key, (np.broadcast_to(owner_pos[:, None], hits.shape)[found],
                                hits[found]), keys[found].astype(np.float64))
        return top_ranks(-key, np.isfinite(key), size)


def embed_queries(queries: list[str], embedder) -> np.ndarray:
    """Unit vectors of queries (distinct texts embedded once) with the serving embedder."""
    if not queries:
        return np.zeros((0, embedder.dim), np.float32)
    distinct = list(dict.fromkeys(queries))
    vectors = embedder.encode(distinct)
    row = {text: i for i, text in enumerate(distinct)}
    return np.asarray(vectors, np.float32)[[row[q] for q in queries]]


def cached_query_vectors(lists: pd.DataFrame, key: str, backend: str, cache_dir: Path,
                         max_queries: int) -> np.ndarray:
    """Query vectors of cached lists in ``backend``'s space, cached beside the lists."""
    from newsstudy.embed import get_embedder

    path = cache_dir / f"vectors-{key}-{backend}-{max_queries}.npy"
    flat = [q for queries in lists["queries"] for q in list(queries)[:max_queries]]
    if path.is_file():
        from newsstudy.embed import load_vectors

        vectors = load_vectors(path, len(flat))
        if vectors is not None:
            return vectors
    vectors = embed_queries(flat, get_embedder(backend))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
    return vectors


def build_query_path(world, market, users: np.ndarray, policy: PublishedPolicy,
                     cache_dir: Path, *, serving_embedder: str, index_kind: str,
                     k_per_query: int, max_queries: int, max_new_tokens: int,
                     batch_size: int = 128, log=print
                     ) -> tuple[QueryPath, pd.DataFrame, dict]:
    """The ``query`` path for market rows ``users`` (the treatment arm), lists cached.

    Returns the path, the lists (``generate_lists``) and the generation info.
    """
    user_ids = market.user_ids[np.sort(np.asarray(users, np.int64))]
    lists, info = generate_lists(world, user_ids, policy, cache_dir,
                                 max_new_tokens=max_new_tokens, batch_size=batch_size, log=log)
    vectors = cached_query_vectors(lists, info["key"], serving_embedder, cache_dir, max_queries)
    row_of = pd.Series(np.arange(market.n_users), index=market.user_ids)
    path = QueryPath(row_of.loc[lists["user_id"].to_numpy()].to_numpy(),
                     [list(q) for q in lists["queries"]],
                     world.article_vectors(serving_embedder), index_kind=index_kind,
                     k_per_query=k_per_query, max_queries=max_queries, query_vectors=vectors)
    return path, lists, info
