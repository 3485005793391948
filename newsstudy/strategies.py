"""Reference query-writing strategies, for calibrating rewards and the world.

Each strategy maps a user to a completion string in the policy's output format. They are
fixed heuristics, not learned policies:

- ``oracle``: written from the user's *latent* interests (topic keywords and the user's
  own terms, by weight). For analysis only: no policy or reward may see the latent truth.
- ``infer``: the interest-inference heuristic, from cleaned signals only: map each signal
  to the corpus topic it is nearest to, keep the user's main topics, and write each topic's
  keywords plus the signal term seen most often with it.
- ``copy``: the user's most recent distinct cleaned signals, verbatim (the "surface").
- ``generic``: generic news queries. ``random_words``: random corpus words.
  ``repeated``: one signal repeated. ``malformed``: not in the output format.

And reward hacks, one per reward: lists that score high on that reward alone while
retrieving badly (see notebook 02).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

from newsstudy.judge import GENERIC_QUERIES, content_words
from newsstudy.output_format import render_completion


class StrategyContext:
    """What the strategies draw on: a loaded world and an embedder for its topics."""

    def __init__(self, world, embedder, n_queries: int, seed: int):
        self.world = world
        self.n_queries = n_queries
        self.rng = np.random.default_rng(seed)
        clean = world.clean_events().sort_values(["user_id", "day", "event_id"])
        self.signals = {int(u): g["text"].tolist() for u, g in clean.groupby("user_id")}
        self.interests = {int(u): g.sort_values("weight", ascending=False)
                          for u, g in world.interests.groupby("user_id")}
        self.embedder = embedder
        self.vocabulary = sorted({w for k in world.topic_keywords for w in " ".join(k).split()})
        titles = world.articles.sort_values("popularity", ascending=False)["title"]
        self.popular_titles = [t.replace("|", " ") for t in titles.head(50)]
        self.centroids = topic_centroids(world, embedder)
        self._topic_of_text: dict[str, int] = {}

    def user_signals(self, user: int) -> list[str]:
        """Cleaned signals of a user, oldest first."""
        return self.signals.get(int(user), [])

    def topics_of(self, texts: list[str]) -> list[int]:
        """Nearest corpus topic per text (centroids in the strategy embedder's space)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._topic_of_text]
        if missing:
            vectors = self.embedder.encode(missing)
            best = (vectors @ self.centroids.T).argmax(axis=1)
            self._topic_of_text.update(zip(missing, best.tolist(), strict=True))
        return [self._topic_of_text[t] for t in texts]


def topic_centroids(world, embedder) -> np.ndarray:
    """Unit mean article vector per topic, in the embedder's space."""
    vectors = world.article_vectors(embedder.name)
    topics = world.articles["topic"].to_numpy()
    centroids = np.stack([vectors[topics == t].mean(axis=0)
                          for t in range(len(world.topic_keywords))])
    return centroids / (np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12)


def _fmt(queries: list[str], reasoning: str) -> str:
    cleaned = [" ".join(q.replace("|", " ").replace("<", " ").replace(">", " ").split())
               for q in queries]
    cleaned = [q for q in dict.fromkeys(cleaned) if q]
    return render_completion(cleaned or ["news"], reasoning=reasoning)


def oracle(ctx: StrategyContext, user: int) -> str:
    """One query per latent interest, by weight: two topic keywords and two of the user's
    own terms; leftover slots take the interests' remaining terms."""
    rows = ctx.interests.get(int(user))
    queries: list[str] = []
    if rows is not None:
        for topic, terms in zip(rows["topic"], rows["terms"], strict=True):
            queries.append(" ".join([*ctx.world.topic_keywords[topic][:2], *list(terms)[:2]]))
        queries += [" ".join(list(terms)[2:4]) for terms in rows["terms"]]
    return _fmt(queries[: ctx.n_queries], "latent interests (oracle)")


def infer(ctx: StrategyContext, user: int) -> str:
    """Infer the main topics behind the cleaned signals; name each, with its top term."""
    signals = ctx.user_signals(user)
    if not signals:
        return _fmt(["news"], "no signals")
    topics = ctx.topics_of(signals)
    counts = Counter(topics)
    queries = []
    for topic, _ in counts.most_common(ctx.n_queries):
        words = Counter(w for s, t in zip(signals, topics, strict=True) if t == topic
                        for w in content_words(s))
        keywords = ctx.world.topic_keywords[topic][:3]
        extra = next((w for w, _ in words.most_common() if w not in " ".join(keywords)), "")
        queries.append(" ".join([*keywords, extra]).strip())
    return _fmt(queries, f"main topics of {len(signals)} signals")


def copy(ctx: StrategyContext, user: int) -> str:
    """The most recent distinct cleaned signals, verbatim."""
    recent = list(dict.fromkeys(reversed(ctx.user_signals(user))))[: ctx.n_queries]
    return _fmt(recent, "recent signals")


def generic(ctx: StrategyContext, user: int) -> str:
    """Generic news queries."""
    return _fmt(list(GENERIC_QUERIES[: ctx.n_queries]), "generic")


def random_words(ctx: StrategyContext, user: int) -> str:
    """Random corpus words, three per query."""
    picks = ctx.rng.choice(ctx.vocabulary, size=(ctx.n_queries, 3))
    return _fmt([" ".join(p) for p in picks], "random")


def repeated(ctx: StrategyContext, user: int) -> str:
    """The most recent signal, repeated (the renderer drops repeats: one query remains)."""
    signals = ctx.user_signals(user)
    last = signals[-1] if signals else "news"
    body = " | ".join([last.replace("|", " ")] * ctx.n_queries)
    return f"<think>repeat</think><queries>{body}</queries>"


def malformed(ctx: StrategyContext, user: int) -> str:
    """Signals as a plain comma list: no tags, so the format check fails."""
    return ", ".join(ctx.user_signals(user)[-ctx.n_queries:]) or "news"


# ---------------------------------------------------------------------- reward hacks

def hack_align(ctx: StrategyContext, user: int) -> str:
    """Titles of the most popular articles: near-perfect alignment, nothing personal."""
    return _fmt(ctx.popular_titles[: ctx.n_queries], "popular titles")


def hack_cov(ctx: StrategyContext, user: int) -> str:
    """One bare word per inferred topic: touches every interest, retrieves vaguely."""
    signals = ctx.user_signals(user)
    topics = [t for t, _ in Counter(ctx.topics_of(signals)).most_common(ctx.n_queries)] \
        if signals else []
    return _fmt([ctx.world.topic_keywords[t][0] for t in topics], "one word per topic")


def hack_spec(ctx: StrategyContext, user: int) -> str:
    """Long, name-rich queries about random articles (specific, but not the user's)."""
    titles = ctx.world.articles["title"].to_numpy()
    picks = ctx.rng.choice(titles, size=ctx.n_queries, replace=False)
    return _fmt([" ".join(t.split()[:9]) for t in picks], "random specific titles")


def hack_div(ctx: StrategyContext, user: int) -> str:
    """Unrelated single words: maximally diverse, meaningless."""
    picks = ctx.rng.choice(ctx.vocabulary, size=ctx.n_queries, replace=False)
    return _fmt(list(picks), "diverse words")


def hack_struct(ctx: StrategyContext, user: int) -> str:
    """Perfectly formatted filler."""
    return _fmt([f"query {i + 1}" for i in range(ctx.n_queries)], "filler")


STRATEGIES: dict[str, Callable[[StrategyContext, int], str]] = {
    "oracle (latent truth)": oracle,
    "infer interests": infer,
    "copy surface signals": copy,
    "generic queries": generic,
    "random words": random_words,
    "one query repeated": repeated,
    "malformed output": malformed,
}

HACKS: dict[str, Callable[[StrategyContext, int], str]] = {
    "align": hack_align, "cov": hack_cov, "spec": hack_spec, "div": hack_div,
    "struct": hack_struct,
}


def completions_for(ctx: StrategyContext, strategy: Callable, users) -> pd.Series:
    """Completions of one strategy for the given users (indexed by user id)."""
    return pd.Series({int(u): strategy(ctx, int(u)) for u in users})
