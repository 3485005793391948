"""Reference query-writing strategies, for calibrating rewards and the world.

Each strategy maps a user to a completion string in the policy's output format. They are
fixed heuristics, not learned policies:

- ``oracle``: written from the user's *latent* interests at the test window: query slots
  shared among the interests by weight, each query the interest's topic keyword and a few
  of the user's own terms (cycling through them). For analysis only: no policy or reward
  may see the latent truth. It is the ceiling of the serving path, not of any method.
- ``infer``: the interest-inference heuristic, from cleaned signals and the corpus only:
  map each signal to the corpus topic it is nearest to, share the query slots among the
  user's topics by how many signals each holds, and write each slot as the topic's top
  keyword plus the words the user repeats most within that topic (ranked by count times
  their rarity across users' signals, so boilerplate such as "wikipedia" or "latest" that
  every user emits sinks).
- ``copy``: the user's most recent distinct cleaned signals, verbatim (the "surface").
- ``generic``: generic news queries. ``random_words``: random corpus words.
  ``repeated``: one signal repeated. ``malformed``: not in the output format.

And reward hacks, one per reward: lists that score high on that reward alone while
retrieving badly (see notebook 02).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

from newsstudy.output_format import render_completion
from newsstudy.text import GENERIC_QUERIES, content_words


class StrategyContext:
    """What the strategies draw on: a loaded world and an embedder for its topics."""

    def __init__(self, world, embedder, n_queries: int, seed: int):
        self.world = world
        self.n_queries = n_queries
        self.rng = np.random.default_rng(seed)
        clean = world.clean_events().sort_values(["user_id", "day", "event_id"])
        self.signals = {int(u): g["text"].tolist() for u, g in clean.groupby("user_id")}
        self.signal_days = {int(u): g["day"].to_numpy() for u, g in clean.groupby("user_id")}
        self.embedder = embedder
        self.vocabulary = sorted({w for k in world.topic_keywords for w in " ".join(k).split()})
        titles = world.articles.sort_values("popularity", ascending=False)["title"]
        self.popular_titles = [t.replace("|", " ") for t in titles.head(50)]
        self.centroids = world.topic_centroids_in(embedder)
        self._topic_of_text: dict[str, int] = {}
        self._user_rarity: dict[str, float] | None = None

    @functools.cached_property
    def interests(self) -> dict[int, pd.DataFrame]:
        """Latent interests per user, heaviest first: read only by ``oracle`` (on first
        use), never by a strategy that production could run."""
        return {int(u): g.sort_values("weight", ascending=False)
                for u, g in self.world.interests.groupby("user_id")}

    def user_signals(self, user: int) -> list[str]:
        """Cleaned signals of a user, oldest first."""
        return self.signals.get(int(user), [])

    def word_rarity(self) -> dict[str, float]:
        """log(users / users whose cleaned signals use the word): an IDF over users' logs."""
        if self._user_rarity is None:
            users_with = Counter()
            for texts in self.signals.values():
                users_with.update({w for t in texts for w in content_words(t)})
            n = max(len(self.signals), 1)
            self._user_rarity = {w: math.log(n / c) for w, c in users_with.items()}
        return self._user_rarity

    def topics_of(self, texts: list[str]) -> list[int]:
        """Nearest corpus topic per text (centroids in the strategy embedder's space)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._topic_of_text]
        if missing:
            vectors = self.embedder.encode(missing)
            best = (vectors @ self.centroids.T).argmax(axis=1)
            self._topic_of_text.update(zip(missing, best.tolist(), strict=True))
        return [self._topic_of_text[t] for t in texts]


def _fmt(queries: list[str], reasoning: str) -> str:
    cleaned = [" ".join(q.replace("|", " ").replace("<", " ").replace(">", " ").split())
               for q in queries]
    cleaned = [q for q in dict.fromkeys(cleaned) if q]
    return render_completion(cleaned or ["news"], reasoning=reasoning)


def share_slots(weights, n_slots: int) -> list[int]:
    """Split ``n_slots`` among items in proportion to ``weights`` (largest remainder).

    >>> share_slots([3, 1], 5)
    [4, 1]
    >>> share_slots([1, 1, 1], 2)
    [1, 1, 0]
    """
    w = np.asarray(weights, dtype=float)
    if len(w) == 0 or n_slots <= 0 or w.sum() <= 0:
        return [0] * len(w)
    exact = w / w.sum() * n_slots
    slots = np.floor(exact).astype(int)
    leftover = n_slots - int(slots.sum())
    for i in np.argsort(-(exact - slots), kind="stable")[:leftover]:
        slots[i] += 1
    return slots.tolist()


def _slot_queries(groups, n_slots: int, n_words: int) -> list[str]:
    """Queries for (weight, keywords, ranked words) groups: slots by weight, words cycled."""
    slots = share_slots([weight for weight, _, _ in groups], n_slots)
    queries = []
    for (_, keywords, words), k in zip(groups, slots, strict=True):
        words = [w for w in words if w not in keywords] or list(words)
        for j in range(k):
            start = (j * n_words) % max(len(words), 1)
            chunk = (words + words)[start:start + n_words]
            queries.append(" ".join([*keywords, *chunk]))
    return queries


# The yardsticks' settings, chosen on validation users under notebook 02's serving path
# (``python benchmarks/tune_yardsticks.py`` prints the grid; test users never seen):
ORACLE_WORDS = 2  # the user's terms per oracle query
ORACLE_KEYWORDS = 2  # topic keywords per oracle query
INFER_WORDS = 3  # the user's repeated words per inferred query
INFER_KEYWORDS = 1  # topic keywords per inferred query
INFER_HALFLIFE_DAYS = 14.0  # a signal's weight halves with every this many days of age


def oracle(ctx: StrategyContext, user: int, keywords: int | None = None,
           n_words: int | None = None) -> str:
    """Query slots shared among the latent interests by their test-window weight; each
    query the topic's top ``keywords`` keywords and ``n_words`` of the user's own terms,
    cycling through them (defaults: ``ORACLE_KEYWORDS``, ``ORACLE_WORDS``)."""
    keywords = ORACLE_KEYWORDS if keywords is None else keywords
    n_words = ORACLE_WORDS if n_words is None else n_words
    rows = ctx.interests.get(int(user))
    if rows is None:
        return _fmt(["news"], "no interests")
    rows = rows.head(ctx.n_queries)
    groups = [(w, list(ctx.world.topic_keywords[t][:keywords]), list(terms))
              for t, w, terms in zip(rows["topic"], rows["weight"], rows["terms"], strict=True)]
    return _fmt(_slot_queries(groups, ctx.n_queries, n_words), "latent interests (oracle)")


def infer(ctx: StrategyContext, user: int, keywords: int | None = None,
          n_words: int | None = None, halflife_days: float | None = None) -> str:
    """Infer the user's topics from the cleaned signals; share the slots by the topics'
    recency-weighted signal counts; each query: the topic's top keyword(s) and the user's
    most telling words in that topic (count times rarity across users).

    ``keywords``, ``n_words`` and ``halflife_days`` default to the module constants chosen
    on validation users (notebook 02)."""
    keywords = INFER_KEYWORDS if keywords is None else keywords
    n_words = INFER_WORDS if n_words is None else n_words
    halflife_days = INFER_HALFLIFE_DAYS if halflife_days is None else halflife_days
    signals = ctx.user_signals(user)
    if not signals:
        return _fmt(["news"], "no signals")
    rarity = ctx.word_rarity()
    topics = ctx.topics_of(signals)
    age = ctx.world.history_days - ctx.signal_days[int(user)]
    recency = np.exp2(-age / halflife_days)
    topic_weight: Counter = Counter()
    words: dict[int, Counter] = {}
    for text, topic, weight in zip(signals, topics, recency, strict=True):
        topic_weight[topic] += weight
        for w in content_words(text):
            words.setdefault(topic, Counter())[w] += weight
    groups = []
    for topic, weight in topic_weight.most_common(ctx.n_queries):
        seen = words.get(topic, Counter())
        ranked = sorted(seen, key=lambda w: (-seen[w] * rarity.get(w, 0.0), w))
        groups.append((weight, list(ctx.world.topic_keywords[topic][:keywords]), ranked))
    return _fmt(_slot_queries(groups, ctx.n_queries, n_words),
                f"{len(groups)} inferred interests from {len(signals)} signals")


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
