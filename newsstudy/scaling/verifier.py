"""A learned verifier for best-of-N: which of a user's sampled lists will retrieve best.

What a production system could train: it logs, for its *training* users, the lists it
served and what each retrieved of the user's later clicks, and learns to score a new list
from what is visible when it is served: the user's prompt (their signals and interest
candidates), the list, and what the list's queries find in the serving index. It never
sees a validation or test user's clicks, nor the test window.

- **Training data.** For ``n_users`` training users with targets (the verifiable reward's
  time split, :mod:`newsstudy.rewards.verifiable`): their prompt as of the cut (the days
  before the target window), ``n_samples`` lists each from the policy as served, and each
  list's Recall@10 of the serving path on the window's articles against the user's clicks
  in the target window (what the system would have logged).
- **Features** (:data:`FEATURES`, :func:`list_features`), from the prompt, the list and the
  index only: how many queries; the share that copy an interest candidate, a recent signal
  or any prompt line; the mean rank of the interest candidates used; words per query; how
  many distinct articles the queries reach; how close each query comes to an article; how
  alike the queries are; how close they are to the signals' centre.
- **Model.** Gradient-boosted trees (scikit-learn's ``HistGradientBoostingRegressor``, a
  few shallow trees) on the list's Recall@10 less the mean of the user's lists: only the
  order *within* a user matters to a selector.
- **Validity** (on validation users, their lists scored against their test-window clicks):
  the within-user Spearman correlation of the verifier's score with Recall@10, and the
  gain of its best-of-G pick over a random pick (paired over users), as for the rewards
  (:mod:`newsstudy.teacher.reward_validity`).

Any string is a valid list: features of an empty or malformed list are zeros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from newsstudy.output_format import parse_completion

FEATURES = ("n_queries", "share_interest", "interest_rank", "share_recent", "share_verbatim",
            "words_per_query", "distinct_hits", "top_similarity", "query_similarity",
            "signal_similarity")
"""The verifier's inputs, each computed from what is visible when a list is served."""

RECENT = 10
"""Signal lines counted as recent (the prompt lists the newest last)."""


def prompt_lines(prompt: str) -> tuple[list[str], list[str]]:
    """The interest candidates' and the signals' texts of a prompt, in prompt order (the
    ``<sK> kind:`` prefix and a ``2x`` count dropped)."""
    interests, signals = [], []
    for line in str(prompt).splitlines():
        line = line.strip()
        if not line.startswith("<s") or ">" not in line or ":" not in line:
            continue
        kind, _, text = line.split(">", 1)[1].partition(":")
        (interests if kind.strip() == "interest" else signals).append(text.strip().lower())
    return interests, signals


def list_features(prompts: Sequence[str], completions: Sequence[str], retriever
                  ) -> pd.DataFrame:
    """One row of :data:`FEATURES` per (prompt, completion) pair; queries are embedded and
    searched in ``retriever`` (the serving path's index of the window being served)."""
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    lists = [[q.strip().lower() for q in parse_completion(c).queries] for c in completions]
    flat = [q for queries in lists for q in queries]
    vectors = retriever.embed_queries(flat) if flat else np.zeros((0, 1), np.float32)
    scores, ids = retriever.search_queries(flat) if flat else (np.zeros((0, 1)),
                                                               np.zeros((0, 1), int))
    contexts = {prompt: _prompt_context(prompt, retriever) for prompt in dict.fromkeys(prompts)}
    rows, start = [], 0
    for prompt, queries in zip(prompts, lists, strict=True):
        rows_of = slice(start, start + len(queries))
        start += len(queries)
        rows.append(_features(contexts[prompt], queries, vectors[rows_of], scores[rows_of],
                              ids[rows_of]))
    return pd.DataFrame(rows, columns=list(FEATURES))


@dataclass(frozen=True)
class _PromptContext:
    """What a prompt offers, read once per prompt however many lists answer it."""

    interests: list[str]
    recent: set[str]
    lines: set[str]
    centre: np.ndarray | None  # unit mean of the recent signals' vectors; None if none


def _prompt_context(prompt: str, retriever) -> _PromptContext:
    interests, signals = prompt_lines(prompt)
    centre = None
    if signals:
        mean = retriever.embed_queries(signals[-RECENT:]).mean(axis=0)
        norm = np.linalg.norm(mean)
        centre = mean / norm if norm > 0 else None
    return _PromptContext(interests, set(signals[-RECENT:]), set(interests) | set(signals),
                          centre)


def _features(context: _PromptContext, queries, vectors, scores, ids) -> list[float]:
    n = len(queries)
    if n == 0:
        return [0.0] * len(FEATURES)
    interests = context.interests
    ranks = [interests.index(q) + 1 for q in queries if q in interests]
    reached = {int(i) for i in ids.ravel() if i >= 0}
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    alike = (unit @ unit.T)[np.triu_indices(n, 1)].mean() if n > 1 else 1.0
    centre = float((unit @ context.centre).mean()) if context.centre is not None else 0.0
    return [float(n), float(np.mean([q in interests for q in queries])),
            float(np.mean(ranks)) / max(len(interests), 1) if ranks else 0.0,
            float(np.mean([q in context.recent for q in queries])),
            float(np.mean([q in context.lines for q in queries])),
            float(np.mean([len(q.split()) for q in queries])),
            len(reached) / max(ids.size, 1), float(scores[:, 0].mean()) if scores.size else 0.0,
            float(alike), centre]


@dataclass
class Verifier:
    """The fitted model and what it was fitted on."""

    model: object
    n_users: int
    n_lists: int

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """Higher: the list is expected to retrieve more of the user's later clicks."""
        return self.model.predict(features[list(FEATURES)].to_numpy(dtype=float))


def within_user_target(frame: pd.DataFrame, metric: str = "recall@10") -> np.ndarray:
    """Each list's ``metric`` less the mean of its user's lists."""
    return (frame[metric] - frame.groupby("user")[metric].transform("mean")).to_numpy()


def fit_verifier(frame: pd.DataFrame, seed: int, metric: str = "recall@10") -> Verifier:
    """Fit on training users' lists (``frame``: ``user``, :data:`FEATURES`, ``metric``)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.05, max_depth=3,
                                          min_samples_leaf=40, l2_regularization=1.0,
                                          random_state=seed)
    model.fit(frame[list(FEATURES)].to_numpy(dtype=float), within_user_target(frame, metric))
    return Verifier(model, int(frame["user"].nunique()), len(frame))


def validity(frame: pd.DataFrame) -> dict:
    """The verifier's checks on users it never saw (``frame``: one row per (user, sample)
    with ``verifier`` and ``recall@10``): the mean within-user Spearman with its 95%
    interval, the paired gain of its best-of-G pick over a random pick (G: the user's
    lists), the share of users whose lists it cannot tell apart, and whether both
    intervals lie above zero (:func:`newsstudy.teacher.reward_validity.validity_table`)."""
    from newsstudy.teacher.reward_validity import validity_table

    row = validity_table(frame, ["verifier"]).iloc[0].drop("reward").to_dict()
    row = {key.replace(" ", "_").replace("-", "_"): value for key, value in row.items()}
    row["passes"] = bool(row["spearman_low"] > 0 and row["gain_low"] > 0)
    return row


def realised_recall(reward, users: Sequence[int], completions: Sequence[str],
                    k: int = 10) -> np.ndarray:
    """Recall@k of each list's served ranking (the verifiable reward's serving path on the
    window's articles) against its training user's target clicks: what would be logged."""
    from newsstudy.metrics import recall_at_k
    from newsstudy.rewards.verifiable import SERVED

    rankings = reward.rankings(completions)
    return np.array([recall_at_k(r[:SERVED], reward.targets.get(int(u), set()), k)
                     for u, r in zip(users, rankings, strict=True)], dtype=float)


def training_frame(pipe, checkpoint, n_users: int, n_samples: int, temperature: float,
                   seed: int) -> pd.DataFrame:
    """Training users' sampled lists with their features and realised Recall@10: the
    first ``n_users`` (seeded) of the pipeline's training users that have targets."""
    reward = pipe.verifiable_reward()
    users = [int(u) for u in np.random.default_rng(seed).permutation(reward.users)[:n_users]]
    user_prompts = pipe.window_prompts(users)
    drawn = pipe.complete(checkpoint, users, n_samples=n_samples, temperature=temperature,
                          seed=seed, user_prompts=user_prompts)
    keys = [(u, j) for u in users for j in range(len(drawn[u]))]
    texts = [drawn[u][j] for u, j in keys]
    frame = list_features([user_prompts[u] for u, _ in keys], texts, reward.retriever)
    frame.insert(0, "sample", [j for _, j in keys])
    frame.insert(0, "user", [u for u, _ in keys])
    frame["recall@10"] = realised_recall(reward, [u for u, _ in keys], texts)
    return frame


def scored_frame(samples: Mapping[int, Sequence[str]], user_prompts: Mapping[int, str],
                 serving, verifier: Verifier) -> pd.DataFrame:
    """``user``, ``sample``, the features and the verifier's score of each list in
    ``samples`` (user -> lists), read against the serving index."""
    keys = [(int(u), j) for u in samples for j in range(len(samples[u]))]
    frame = list_features([user_prompts[u] for u, _ in keys],
                          [samples[u][j] for u, j in keys], serving)
    frame.insert(0, "sample", [j for _, j in keys])
    frame.insert(0, "user", [u for u, _ in keys])
    frame["verifier"] = verifier.score(frame)
    return frame


def validation_frame(pipe, checkpoint, users: Sequence[int], n_samples: int,
                     temperature: float, seed: int, serving, fusion: str,
                     fitted: Verifier) -> pd.DataFrame:
    """Validation users' sampled lists (their whole-history prompts, as served): the
    verifier's score and each list's Recall@10 on the serving path against the user's
    test-window clicks. Users without such clicks are left out."""
    from newsstudy import evaluation

    truth = pipe.world.truth(list(users))
    users = [int(u) for u in users if int(u) in truth]
    user_prompts = pipe.prompts(users)
    drawn = pipe.complete(checkpoint, users, n_samples=n_samples, temperature=temperature,
                          seed=seed)
    frame = scored_frame(drawn, user_prompts, serving, fitted)
    recall = []
    for j in range(n_samples):
        lists = {u: drawn[u][j] for u in users}
        per_user = evaluation.evaluate_completions(pipe.world, serving, lists, fusion=fusion)
        recall.append(per_user[["recall@10"]].assign(sample=j).rename_axis("user")
                      .reset_index())
    return frame.merge(pd.concat(recall), on=["user", "sample"], how="inner")


def train_and_check(P, val_users: Sequence[int]) -> dict:
    """One job of notebook 04 (a worker process): sample training users' lists from 03's
    RL teacher, fit the verifier on their realised Recall@10, and check it on
    ``val_users``' lists. Returns the fitted verifier, the training facts and the
    validation rows (plain data and a picklable model). ``P``: 04's validated settings."""
    from newsstudy import protocol, teacher
    from newsstudy.world import data

    world = data.load_world(P.profile)
    pipe = teacher.PolicyPipeline(world, P, None, log=lambda *a: None)
    checkpoint = pipe.teacher(P.seed)  # the recipe's reward and weights, from the cache
    train = training_frame(pipe, checkpoint, P.verifier_train_users, P.verifier_samples,
                           P.sample_temperature, P.seed)
    fitted = fit_verifier(train, P.seed)
    serving = protocol.serving(world, P)
    check = validation_frame(pipe, checkpoint, val_users[: P.verifier_val_users],
                             P.verifier_samples, P.sample_temperature, P.seed + 1, serving,
                             P.fusion, fitted)
    return {"verifier": fitted, "training": {
                "users": fitted.n_users, "lists": fitted.n_lists,
                "mean_recall@10": float(train["recall@10"].mean()),
                "tied_users": float((train.groupby("user")["recall@10"].agg(np.ptp) == 0).mean())},
            "validation": check[["user", "sample", "verifier", "recall@10"]].to_dict("records")}
