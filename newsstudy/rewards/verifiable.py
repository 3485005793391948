"""The verifiable retrieval reward: what a list retrieves of a training user's own later clicks.

Beside the paper's five proxies, a reward that sees what retrieves (as Rec-R1 and
DeepRetrieval score a query by what it retrieves against held-out ground truth). It never
reads the test window, nor any validation or test user: it splits a *training* user's
history window in time, as the study splits every user's history from the test window.

- **Cut.** ``cut = history_days - target_days``. The user's prompt is built from the
  events before the cut (:func:`newsstudy.policy.prompts.history_until`), interest
  candidates included: what the user's prompt would have been on that day.
- **Targets.** The user's cleaned news clicks on days ``cut .. history_days - 1`` on
  articles first published in those days, as the test window's clicks are on articles
  first published in it. A user without such a click has no target and is left out.
- **Retrieval.** The serving path of the evaluation, on the articles first published in
  those days (the index the user would have been served from then): each query takes its
  ``k_per_query`` nearest articles in the serving embedder's space and the hits are
  fused by the recipe's fusion, the ranking a user would be served. Below it, to grade
  deeper than serving looks, every other article of the window follows, nearest first by
  its similarity to the closest query of the list (so the served top is exactly the
  serving path's, and a list whose queries came close to a click it did not serve still
  scores above one whose queries did not).
- **Grade.** NDCG@``depth`` of that ranking (binary relevance, log2 discount): graded by
  rank down to ``depth``, so two lists that find the same clicks at other ranks, or other
  clicks, score differently, and almost no group of a policy's samples ties (Recall@10
  alone tied in about half of them; NDCG of the serving path's top 100 in 12%, NDCG over
  the whole window in 1%, on the warm start's samples for validation users, whose
  within-user Spearman with test Recall@10 was +0.14 and +0.11 and whose best-of-8 pick
  gained +0.020 and +0.028 test Recall@10 over a random pick).

The reward is ``retrieval + w_struct * struct``: the grade plus the paper's format term
(1 for a well-formed list). Any string is a valid completion; nothing here raises on
model output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from newsstudy.metrics import ndcg_at_k
from newsstudy.output_format import parse_completion

REWARD_NAMES = ("retrieval", "struct")
"""The verifiable reward's terms, in the order of their weights."""

REWARD_VERSION = 3  # 3: the served top, then the rest of the window by nearest query
"""Bump when what the reward computes changes (part of every checkpoint's cache key)."""

SERVED = 100
"""Articles of the fused ranking the serving path keeps (as the evaluation's ``top_n``)."""


@dataclass(frozen=True)
class RetrievalWeights:
    """Weights of the verifiable reward's terms (:data:`REWARD_NAMES`) in its total."""

    retrieval: float = 1.0
    struct: float = 1.0

    def as_array(self) -> np.ndarray:
        """Weights in ``REWARD_NAMES`` order."""
        return np.array([self.retrieval, self.struct], dtype=np.float64)


def target_window(world, target_days: int) -> tuple[int, int]:
    """``(cut, end)``: the days ``cut .. end - 1`` at the end of the history window whose
    clicks are the targets; ``ValueError`` if the window does not fit in the history."""
    end = int(world.history_days)
    if not 1 <= int(target_days) < end:
        raise ValueError(f"target_days must be between 1 and {end - 1} (the history window "
                         f"has {end} days), got {target_days}")
    return end - int(target_days), end


def training_targets(world, users: Iterable[int], target_days: int) -> dict[int, set[int]]:
    """Per training user with any: the article ids of their cleaned news clicks in the
    target window on articles first published in it (see the module doc).

    ``ValueError`` if a user is not a training user: validation and test users' clicks are
    never read here.
    """
    users = [int(u) for u in users]
    split = world.users.set_index("user_id")["split"]
    others = [u for u in users if split.get(u) != "train"]
    if others:
        raise ValueError(f"the verifiable reward reads training users only; "
                         f"{len(others)} others given (e.g. user {others[0]}, "
                         f"{split.get(others[0], 'unknown')})")
    return history_targets(world, users, target_days)


def history_targets(world, users: Iterable[int], target_days: int) -> dict[int, set[int]]:
    """:func:`training_targets` for any users, for the instrument checks of notebook 03 on
    validation users only (how the reward ranks a policy's lists, whether training raised
    it on users it never saw). It reads their history window, never the test window;
    training reads :func:`training_targets`, which refuses every user but training users."""
    users = [int(u) for u in users]
    cut, end = target_window(world, target_days)
    events = world.clean_events()
    clicks = events[(events["domain"] == "news") & (events["article_id"] >= 0)
                    & events["day"].between(cut, end - 1) & events["user_id"].isin(users)]
    published = world.articles.set_index("article_id")["day"]
    fresh = published.reindex(clicks["article_id"]).to_numpy()
    clicks = clicks[(fresh >= cut) & (fresh < end)]
    return {int(u): set(g.astype(int).tolist()) for u, g in clicks.groupby("user_id")["article_id"]}


def window_articles(world, target_days: int, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """``(article ids, vectors)`` of the target window's articles (first published in it),
    in ``backend``'s space."""
    cut, end = target_window(world, target_days)
    articles = world.articles
    mask = ((articles["day"] >= cut) & (articles["day"] < end)).to_numpy()
    return (articles["article_id"].to_numpy()[mask],
            np.asarray(world.article_vectors(backend))[mask])


def window_index(world, target_days: int, backend: str, kind: str = "exact"):
    """The serving index of the target window: articles first published in it."""
    from newsstudy.index import NewsIndex

    ids, vectors = window_articles(world, target_days, backend)
    return NewsIndex(ids, vectors, kind=kind)


class RetrievalReward:
    """Scores completions of training users by what they retrieve of their targets.

    ``retriever``: the serving path over the target window's articles
    (:func:`window_index`); ``targets``: :func:`training_targets`. ``score`` has the
    interface of :meth:`newsstudy.rewards.RewardScorer.score`: one row per completion,
    one column per term of :data:`REWARD_NAMES` and their weighted ``total``.
    """

    reward_names = REWARD_NAMES

    def __init__(self, retriever, targets: Mapping[int, set[int]], fusion: str,
                 depth: int, w_struct: float, vectors: np.ndarray | None = None):
        self.retriever = retriever
        # the window's article vectors in the index's order (its retriever's embedder's
        # space), for the ranking below the served top
        self.vectors = vectors
        self.targets = {int(u): set(t) for u, t in targets.items()}
        self.fusion = fusion
        self.depth = int(depth)
        self.weights = RetrievalWeights(struct=float(w_struct))

    @classmethod
    def from_settings(cls, world, settings, users: Iterable[int],
                      checks: bool = False) -> RetrievalReward:
        """The reward of a recipe (``target_days``, ``reward_depth``, the serving path and
        ``w_struct``) for training ``users``; with ``checks``, for any users, to measure
        it on validation users (:func:`history_targets`), never to train on."""
        from newsstudy.index import NewsIndex
        from newsstudy.retrieval import Retriever

        ids, vectors = window_articles(world, settings.target_days, settings.serving_embedder)
        index = NewsIndex(ids, vectors, kind=settings.index_kind)
        retriever = Retriever(index, settings.serving_embedder, k_per_query=settings.k_per_query)
        targets = (history_targets if checks else training_targets)(world, users,
                                                                     settings.target_days)
        return cls(retriever, targets, settings.fusion, settings.reward_depth, settings.w_struct,
                   vectors=vectors)

    @property
    def users(self) -> list[int]:
        """The training users with targets (the only ones this reward can score)."""
        return sorted(self.targets)

    def rankings(self, completions: Sequence[object]) -> list[list[int]]:
        """Each completion's ranking of the window's articles, ``depth`` at most: the
        serving path's fused top (``k_per_query`` hits per query, fused, at most
        :data:`SERVED`), then the other articles by their best similarity to any of the
        list's queries (ties by article id)."""
        from newsstudy.fusion import FUSION
        from newsstudy.index import MISSING_ID

        lists = [list(parse_completion(c).queries) for c in completions]
        flat = [q for queries in lists for q in queries]
        index, k = self.retriever.index, self.retriever.k_per_query
        _, ids = self.retriever.search_queries(flat)  # the serving path's hits
        if self.vectors is None:
            raise ValueError("the ranking below the served top needs the window's vectors")
        similarity = self.retriever.embed_queries(flat) @ np.asarray(self.vectors).T
        articles = index.article_ids
        by_id = np.argsort(articles, kind="stable")  # ties broken by article id
        fuse, out, start = FUSION[self.fusion], [], 0
        for queries in lists:
            rows = slice(start, start + len(queries))
            start += len(queries)
            served = [int(i) for i in fuse([[int(i) for i in row[:k] if i != MISSING_ID]
                                            for row in ids[rows]], k=SERVED)]
            if not queries:
                out.append(served)
                continue
            best = similarity[rows].max(axis=0)[by_id]
            order = articles[by_id][np.argsort(-best, kind="stable")]
            taken = set(served)
            out.append((served + [int(a) for a in order if int(a) not in taken])[: self.depth])
        return out

    def score(self, users: Sequence[int], completions: Sequence[object]) -> pd.DataFrame:
        """One row per completion: ``retrieval`` (NDCG@depth against the user's targets; 0
        for a user without any), ``struct`` (well-formed) and the weighted ``total``."""
        if len(users) != len(completions):
            raise ValueError(f"{len(users)} users but {len(completions)} completions")
        rankings = self.rankings(completions)
        grade = [ndcg_at_k(ranking, self.targets.get(int(u), set()), self.depth)
                 for u, ranking in zip(users, rankings, strict=True)]
        struct = [float(parse_completion(c).format_ok) for c in completions]
        frame = pd.DataFrame({"retrieval": grade, "struct": struct})
        frame["total"] = frame[list(REWARD_NAMES)].to_numpy() @ self.weights.as_array()
        return frame
