"""The paper's five rewards, each in [0, 1], and their weighted sum.

========== ==================================================================================
R_align    retrieval alignment: mean over queries of the mean cosine between the query and
           its top-10 hits in the ANN news index (clipped to [0, 1]).
R_cov      interest coverage: Rubrics-as-Rewards judge (``newsstudy.rewards.judge``).
R_spec     specificity: Rubrics-as-Rewards judge.
R_div      intra-list diversity: mean pairwise cosine distance (1 - cos, clipped to [0, 1])
           among the queries; 0 for fewer than two queries.
R_struct   structural validity: 1 if the completion follows the output format exactly
           (``newsstudy.output_format``), else 0.
========== ==================================================================================

The total is ``sum(weight_r * R_r)``; with the paper's equal weights (1 each) it lies in
[0, 5]. When the format is broken, the other four rewards still score whatever queries a
``<queries>`` block yields (none if there is no block), so R_struct is the only term that
punishes format alone.

Rewards see only what production would: the user's cleaned signals as the policy's prompt
shows them (through the judge's inferred interests), the completion, and the news index of articles published before the
test window. They never see latent interests or held-out clicks. Any string is a valid
input; nothing here raises on model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from newsstudy.index import NewsIndex
from newsstudy.output_format import parse_completion
from newsstudy.retrieval import Retriever
from newsstudy.rewards.judge import RubricJudge

REWARD_NAMES = ("align", "cov", "spec", "div", "struct")


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the five rewards in the total (the paper uses 1 for each)."""

    align: float = 1.0
    cov: float = 1.0
    spec: float = 1.0
    div: float = 1.0
    struct: float = 1.0

    def as_array(self) -> np.ndarray:
        """Weights in ``REWARD_NAMES`` order."""
        return np.array([getattr(self, name) for name in REWARD_NAMES], dtype=np.float64)

    @classmethod
    def from_settings(cls, settings) -> RewardWeights:
        """The ``w_<reward>`` fields of validated notebook parameters."""
        return cls(**{name: getattr(settings, f"w_{name}") for name in REWARD_NAMES})


def alignment(hit_scores: np.ndarray, hit_ids: np.ndarray) -> float:
    """R_align from one list's hits (queries x k): mean of per-query mean hit cosine."""
    if hit_scores.size == 0:
        return 0.0
    valid = hit_ids >= 0
    per_query = np.where(valid, np.clip(hit_scores, 0.0, 1.0), 0.0).sum(axis=1) / hit_scores.shape[1]
    return float(per_query.mean())


def diversity(query_vectors: np.ndarray) -> float:
    """R_div: mean pairwise cosine distance among unit query vectors, in [0, 1]."""
    n = len(query_vectors)
    if n < 2:
        return 0.0
    sims = query_vectors @ query_vectors.T
    upper = sims[np.triu_indices(n, k=1)]
    return float(np.clip(1.0 - upper, 0.0, 1.0).mean())


class RewardScorer:
    """Scores completions for users with the five rewards, in batches.

    Args:
        retriever: the reward's retriever (embedder + news index of history articles).
        judge: a fitted ``RubricJudge`` whose interests were inferred for the users.
        weights: reward weights for the total.
        parse_options: keyword arguments for ``parse_completion`` (list-length limits).
    """

    reward_names = REWARD_NAMES

    def __init__(self, retriever: Retriever, judge: RubricJudge,
                 weights: RewardWeights | None = None, parse_options: dict | None = None):
        self.retriever = retriever
        self.judge = judge
        self.weights = weights or RewardWeights()
        self.parse_options = parse_options or {}

    @classmethod
    def from_world(cls, world, embedder, n_judge_clusters: int, seed: int,
                   weights: RewardWeights | None = None, index_kind: str = "exact",
                   parse_options: dict | None = None,
                   max_prompt_signals: int | None = 48) -> RewardScorer:
        """Build the reward stack for a world: index, judge, and every user's interests.

        The judge reads each user's signals as the policy's prompt shows them: the
        ``max_prompt_signals`` most recent distinct ones, every occurrence counted
        (:func:`newsstudy.policy.prompts.digest_events`); ``None`` reads every signal.
        """
        index = NewsIndex.from_world(world, which="history", backend=embedder.name,
                                     kind=index_kind)
        retriever = Retriever(index, embedder, k_per_query=10)
        history = world.articles[world.articles["in_history_index"]]
        vectors = world.article_vectors(embedder.name)[history.index.to_numpy()]
        judge = RubricJudge.fit(vectors, history["embed_text"].tolist(), embedder,
                                n_clusters=n_judge_clusters, seed=seed,
                                article_ids=history["article_id"].to_numpy(),
                                k=retriever.k_per_query)
        from newsstudy.policy.prompts import digest_events

        clean = (world.clean_events() if max_prompt_signals is None
                 else digest_events(world, max_prompt_signals))
        texts = clean["text"].tolist()
        # each distinct signal text is embedded and searched once (many signals repeat)
        which, distinct = pd.factorize(pd.Series(texts, dtype=object))
        distinct_vectors = retriever.embed_queries(list(distinct))
        _, distinct_ids = index.search(distinct_vectors, retriever.k_per_query)
        judge.infer_interests(clean["user_id"].to_numpy(), distinct_vectors[which], texts,
                              hit_ids=distinct_ids[which],
                              signal_ages=world.history_days - clean["day"].to_numpy())
        return cls(retriever, judge, weights, parse_options)

    @classmethod
    def from_settings(cls, world, settings) -> RewardScorer:
        """The reward stack that validated notebook parameters (``RewardSettings``) describe."""
        from newsstudy.embed import get_embedder
        from newsstudy.parallel import worker_memo

        def build() -> RewardScorer:
            return cls.from_world(world, get_embedder(settings.reward_embedder),
                                  settings.n_judge_clusters, settings.seed,
                                  index_kind=settings.index_kind,
                                  max_prompt_signals=settings.max_prompt_signals)

        # a training worker builds the same stack for each of its jobs (their reward
        # weights may differ; the stack, which scoring only reads, does not): build it once
        world_hash = getattr(world, "manifest", {}).get("world_hash")
        stack = build() if world_hash is None else worker_memo(
            ("reward stack", world_hash, settings.reward_embedder, settings.n_judge_clusters,
             settings.seed, settings.index_kind, settings.max_prompt_signals), build)
        return cls(stack.retriever, stack.judge, RewardWeights.from_settings(settings),
                   stack.parse_options)

    def score(self, users: Sequence[int], completions: Sequence[object]) -> pd.DataFrame:
        """One row per completion: the five rewards, the weighted total, and list facts."""
        if len(users) != len(completions):
            raise ValueError(f"{len(users)} users but {len(completions)} completions")
        parsed = [parse_completion(c, **self.parse_options) for c in completions]
        queries = [list(p.queries) for p in parsed]
        flat = [q for qs in queries for q in qs]
        vectors = self.retriever.embed_queries(flat)
        scores, ids = self.retriever.index.search(vectors, self.retriever.k_per_query)
        judged = self.judge.score_lists(users, queries, vectors, ids, scores)
        rows = []
        start = 0
        for qs, p in zip(queries, parsed, strict=True):
            end = start + len(qs)
            part = slice(start, end)
            rows.append({
                "align": alignment(scores[part], ids[part]),
                "div": diversity(vectors[part]),
                "struct": float(p.format_ok),
                "n_queries": len(qs),
            })
            start = end
        frame = pd.DataFrame(rows, columns=["align", "div", "struct", "n_queries"])
        frame["cov"] = judged["cov"].to_numpy()
        frame["spec"] = judged["spec"].to_numpy()
        frame["interests_covered"] = judged["interests_covered"].to_numpy()
        frame["interests"] = judged["interests"].to_numpy()
        frame = frame[[*REWARD_NAMES, "n_queries", "interests_covered", "interests"]]
        frame["total"] = frame[list(REWARD_NAMES)].to_numpy() @ self.weights.as_array()
        return frame
