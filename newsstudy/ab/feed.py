"""The feed's recall paths and its ranker (:mod:`newsstudy.ab.simulate` describes both).

Each path ranks the day's pool for the day's visitors; :func:`mix` fuses the paths' ranks
into one feed (reciprocal-rank fusion or round robin), vectorised over visitors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from newsstudy.ab.settings import FeedSettings

# --------------------------------------------------------------------------- settings

class RecallPath(Protocol):
    """An extra recall path: ranks of a day's pool articles for some users.

    ``ranks(users, pool, day, size)`` gets user rows and pool article rows (indices into
    the market's users and articles) and returns int32 ``[len(users), len(pool)]``: the
    rank (0 = best) of every article the path retrieves for that user among its best
    ``size``, and ``size`` for every article it does not.
    """

    name: str

    def ranks(self, users: np.ndarray, pool: np.ndarray, day: int, size: int) -> np.ndarray:
        ...


# --------------------------------------------------------------------------- the loop

def top_ranks(scores: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """Ranks (0 = best) of each row's ``size`` best valid entries; ``size`` elsewhere.

    ``scores`` and ``valid`` are ``[n, p]``. Among the kept entries, equal scores rank
    the lower column first; which of several entries tied exactly at the cut-off is
    kept is numpy's ``argpartition``'s (deterministic) choice.

    >>> top_ranks(np.array([[0.1, 0.5, 0.3]]), np.array([[True, True, True]]), 2).tolist()
    [[2, 0, 1]]
    """
    n, p = scores.shape
    ranks = np.full((n, p), size, dtype=np.int32)
    keep = min(size, p)
    if n == 0 or p == 0 or keep == 0:
        return ranks
    key = np.where(valid, -np.asarray(scores, dtype=np.float64), np.inf)
    if keep < p:
        top = np.argpartition(key, keep - 1, axis=1)[:, :keep]
        top.sort(axis=1)  # column order, so the stable sort below breaks ties by column
    else:
        top = np.broadcast_to(np.arange(p), (n, p)).copy()
    top_keys = np.take_along_axis(key, top, axis=1)
    order = np.argsort(top_keys, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    values = np.broadcast_to(np.arange(keep, dtype=np.int32), (n, keep)).copy()
    values[np.take_along_axis(top_keys, order, axis=1) == np.inf] = size
    np.put_along_axis(ranks, top, values, axis=1)
    return ranks


def ranks_in_order(order: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """Like :func:`top_ranks` when every row ranks the columns in the same ``order``.

    Each row's rank of a column is the number of valid columns before it in ``order``
    (a cumulative sum instead of a sort per row).

    >>> ranks_in_order(np.array([1, 2, 0]), np.array([[True, False, True]]), 2).tolist()
    [[1, 2, 0]]
    """
    n, p = valid.shape
    ranks = np.full((n, p), size, dtype=np.int32)
    ordered = valid[:, order]
    position = np.cumsum(ordered, axis=1, dtype=np.int32) - 1
    ranks[:, order] = np.where(ordered & (position < size), position, size)
    return ranks


def category_ranks(affinity: np.ndarray, topic: np.ndarray, popularity: np.ndarray,
                   valid: np.ndarray, size: int) -> np.ndarray:
    """Ranks of the ``category`` path: categories by the user's affinity, then popularity.

    ``affinity`` ``[n, topics]``; ``topic`` and ``popularity`` per pool column; ``valid``
    ``[n, p]``. Categories are taken whole, in order of the user's affinity (ties: lower
    category id first); within one, articles by popularity (ties: lower column first).
    No sort per row: a user's rank of an article is the number of valid articles in the
    categories they put first, plus those of its own category that are more popular.

    >>> category_ranks(np.array([[0.2, 0.8]]), np.array([0, 1, 1]), np.array([5.0, 1.0, 2.0]),
    ...                np.array([[True, True, True]]), 3).tolist()
    [[2, 1, 0]]
    """
    n, p = valid.shape
    n_topics = affinity.shape[1]
    order = np.lexsort((np.arange(p), -popularity, topic))  # by category, then popularity
    ordered = valid[:, order]
    sorted_topic = topic[order]
    inclusive = np.cumsum(ordered, axis=1, dtype=np.int32)
    block_start = np.searchsorted(sorted_topic, np.arange(n_topics), side="left")
    before_block = np.where(block_start > 0, inclusive[:, np.maximum(block_start - 1, 0)], 0)
    within = inclusive - 1 - before_block[:, sorted_topic]
    per_topic = np.zeros((n, n_topics), np.int32)  # valid articles per category
    block_end = np.searchsorted(sorted_topic, np.arange(n_topics), side="right")
    after = np.where(block_end > 0, inclusive[:, np.maximum(block_end - 1, 0)], 0)
    per_topic[:] = after - before_block
    # categories by affinity, ties by category id
    topic_order = np.lexsort((np.broadcast_to(np.arange(n_topics), affinity.shape), -affinity),
                             axis=1)
    counts = np.take_along_axis(per_topic, topic_order, axis=1)
    offsets_sorted = np.cumsum(counts, axis=1, dtype=np.int32) - counts
    offsets = np.empty_like(offsets_sorted)
    np.put_along_axis(offsets, topic_order, offsets_sorted, axis=1)
    position = offsets[:, sorted_topic] + within
    ranks = np.full((n, p), size, dtype=np.int32)
    ranks[:, order] = np.where(ordered & (position < size), position, size)
    return ranks


RRF_SCALE = 1e12
"""RRF contributions are counted in integer units of 1 / RRF_SCALE, so equal sums tie
exactly (as ``math.fsum`` makes them in :func:`newsstudy.fusion.reciprocal_rank_fusion`)."""


def mix(path_ranks: Sequence[np.ndarray], feed: FeedSettings) -> np.ndarray:
    """The feed: ``[n, feed_size]`` pool columns picked from the paths' ranks (-1: empty).

    ``ranker="rrf"``: by reciprocal-rank fusion score ``sum 1 / (rrf_c + rank)`` (ranks
    from 1), ties broken by round-robin order, exactly as
    :func:`newsstudy.fusion.reciprocal_rank_fusion`. ``ranker="round_robin"``: rank 1 of
    every path (in path order), then rank 2, ..., as :func:`newsstudy.fusion.round_robin`.
    """
    size = feed.recall_size
    n, p = path_ranks[0].shape
    n_paths = len(path_ranks)
    never = np.iinfo(np.int64).max
    # round-robin position of every article: min over paths of rank * n_paths + path
    order_key = np.full((n, p), never, dtype=np.int64)
    for index, ranks in enumerate(path_ranks):
        table = np.append(np.arange(size, dtype=np.int64) * n_paths + index, never)
        np.minimum(order_key, table[ranks], out=order_key)
    valid = order_key < never
    if feed.ranker == "rrf":
        table = np.append(np.rint(RRF_SCALE / (feed.rrf_c + np.arange(size) + 1.0)), 0)
        score = np.zeros((n, p), dtype=np.int64)
        for ranks in path_ranks:
            score += table.astype(np.int64)[ranks]
        key = np.where(valid, -score * (size * n_paths + 1) + order_key, never)
    else:
        key = order_key
    k = min(feed.feed_size, p)
    if k < p:
        top = np.argpartition(key, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(p), (n, p)).copy()
    order = np.argsort(np.take_along_axis(key, top, axis=1), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    shown = np.take_along_axis(valid, top, axis=1)
    out = np.where(shown, top, -1)
    if k < feed.feed_size:
        out = np.concatenate([out, np.full((n, feed.feed_size - k), -1)], axis=1)
    return out
