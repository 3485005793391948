"""Fusing the per-query result lists of one user into a single ranked list.

Serving path (PAPER.md, "Serving"): every generated query retrieves its own list of
article ids from the ANN index; those lists are fused into the one ranked list that the
metrics score. The paper does not say how it fuses, so two standard choices are offered,
picked by name through ``FUSION``:

* ``"round_robin"`` -- :func:`round_robin`: rank 1 of every query (in query order), then
  rank 2 of every query, and so on, skipping ids already taken. Every query gets an
  equal share of the top slots, which rewards a list that covers several interests.
* ``"rrf"`` -- :func:`reciprocal_rank_fusion` (Cormack, Clarke and Buettcher, SIGIR
  2009): ``score(id) = sum over lists of 1 / (c + rank)``, ranks from 1, ``c = 60``.
  Ids found by several queries rise to the top.

Shared conventions: ``result_lists`` is a sequence of sequences of hashable ids (one per
query, best first); an empty input gives an empty output; an id repeated inside one list
counts only at its first (best) rank; the output has no duplicates; ``k=None`` keeps
every id, otherwise the first ``k`` (``k`` a positive integer, else ``ValueError``).
Both functions are deterministic: the same input gives the same output.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import zip_longest

ItemId = Hashable
Fusion = Callable[..., list[ItemId]]

_MISSING = object()


def _check_k(k: object) -> int | None:
    """``None`` or a positive int; anything else raises ``ValueError`` naming ``k``."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer or None, got k={k!r}")
    return int(k)


def _deduplicated(result_lists: Iterable[Iterable[ItemId]]) -> list[list[ItemId]]:
    """Each list with repeats removed, keeping first occurrences in order."""
    return [list(dict.fromkeys(ids)) for ids in result_lists]


def _interleaved(lists: Sequence[Sequence[ItemId]]) -> list[ItemId]:
    """Distinct ids in round-robin order: rank 1 of every list, then rank 2, ..."""
    seen: dict[ItemId, None] = {}
    for row in zip_longest(*lists, fillvalue=_MISSING):
        for item in row:
            if item is not _MISSING and item not in seen:
                seen[item] = None
    return list(seen)


def round_robin(result_lists: Sequence[Sequence[ItemId]], k: int | None = None) -> list[ItemId]:
    """Interleave the lists rank by rank, skipping ids already taken.

    >>> round_robin([[1, 2, 3], [4, 1, 5], [6]])
    [1, 4, 6, 2, 3, 5]
    >>> round_robin([[1, 2, 3], [4, 1, 5], [6]], k=2)
    [1, 4]
    >>> round_robin([])
    []
    """
    k = _check_k(k)
    fused = _interleaved(_deduplicated(result_lists))
    return fused if k is None else fused[:k]


def reciprocal_rank_fusion(
    result_lists: Sequence[Sequence[ItemId]], k: int | None = None, c: float = 60
) -> list[ItemId]:
    """Rank ids by ``sum 1 / (c + rank)`` over the lists (ranks from 1).

    Ties in score are broken by first appearance in the round-robin order (best rank
    first, then earlier query), so the result never depends on hashing or dict order.
    Scores are summed with ``math.fsum`` (exactly rounded), so the same ranks in a
    different query order give bit-identical scores and tie as they should.
    ``c`` must be a finite number >= 0.

    >>> reciprocal_rank_fusion([[1, 2, 3], [3, 2, 4]])
    [3, 2, 1, 4]
    >>> reciprocal_rank_fusion([[1, 2], [3, 4]], k=3)
    [1, 3, 2]
    """
    k = _check_k(k)
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0 <= c < float("inf"):
        raise ValueError(f"c must be a finite number >= 0, got c={c!r}")
    lists = _deduplicated(result_lists)
    terms: dict[ItemId, list[float]] = {}
    for ids in lists:
        for rank, item in enumerate(ids, start=1):
            terms.setdefault(item, []).append(1.0 / (c + rank))
    scores = {item: math.fsum(parts) for item, parts in terms.items()}
    order = {item: position for position, item in enumerate(_interleaved(lists))}
    fused = sorted(scores, key=lambda item: (-scores[item], order[item]))
    return fused if k is None else fused[:k]


FUSION: dict[str, Fusion] = {
    "round_robin": round_robin,
    "rrf": reciprocal_rank_fusion,
}
