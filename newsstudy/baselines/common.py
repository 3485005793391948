"""Data preparation shared by every baseline: one :class:`BaselineData` per world.

Articles are addressed by *row* (their position in ``world.articles``); a ranking is
turned back into article ids only at the end. Each user's cleaned history (``kept``
events, day order) is stored once; a baseline asks for the view "before day ``cut``":

* TEST users: ``cut = history_days`` (the whole history), candidates = ``test_rows``.
* VAL users: ``cut = val_start``; their news clicks on articles published in
  ``[val_start, history_days)`` are the validation targets, candidates = ``val_rows``.
* TRAIN users: the whole history, as training examples.

The candidate sets of validation and test both hold only articles that appeared after
the input window, as in production. ``known_slot`` gives an ID-embedding slot to the
articles that TRAIN users clicked before ``val_start`` (slot 0 = no ID: content only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from newsstudy import embed
from newsstudy.embed import normalise_rows

DOMAINS = ("search", "browse", "news")


@dataclass
class UserHistory:
    """One user's cleaned events in time order (events of a day keep their log order)."""

    day: np.ndarray  # int, per event
    text: np.ndarray  # int index into BaselineData.text_vecs
    domain: np.ndarray  # int index into DOMAINS
    article: np.ndarray  # article row for news clicks, -1 otherwise


@dataclass
class BaselineData:
    """Everything a baseline reads, prepared once per world (see module doc)."""

    article_ids: np.ndarray
    article_vecs: np.ndarray  # frozen MiniLM rows, unit length
    article_text_vecs: np.ndarray  # articles in the text embedder's space
    article_day: np.ndarray
    test_rows: np.ndarray
    val_rows: np.ndarray
    history_days: int
    val_start: int
    text_vecs: np.ndarray  # distinct behaviour texts, text embedder's space
    histories: dict[int, UserHistory]
    train_users: np.ndarray
    val_users: np.ndarray
    test_users: np.ndarray
    val_targets: dict[int, set[int]]  # val user -> target article rows
    known_slot: np.ndarray  # article row -> ID slot (0 = none)
    text_embedder: str
    extra: dict = field(default_factory=dict)

    @property
    def n_articles(self) -> int:
        return len(self.article_ids)

    @property
    def n_slots(self) -> int:
        return int(self.known_slot.max()) + 1

    def before(self, user: int, cut: int) -> UserHistory:
        """The user's events on days ``< cut``."""
        h = self.histories.get(int(user))
        if h is None:
            empty = np.zeros(0, dtype=np.int64)
            return UserHistory(empty, empty, empty, empty)
        keep = h.day < cut
        return UserHistory(h.day[keep], h.text[keep], h.domain[keep], h.article[keep])

    def clicks(self, user: int, cut: int) -> np.ndarray:
        """Article rows the user clicked before day ``cut``, oldest first."""
        h = self.before(user, cut)
        return h.article[h.article >= 0]

    def ids(self, rows) -> list[int]:
        """Article ids of article rows."""
        return [int(a) for a in self.article_ids[np.asarray(rows, dtype=np.int64)]]


def top_rows(scores: np.ndarray, candidates: np.ndarray, top_n: int) -> np.ndarray:
    """Candidate rows by descending score (stable: ties keep candidate order)."""
    order = np.argsort(-scores, kind="stable")[:top_n]
    return candidates[order]


def prepare(world, text_embedder: str, val_days: int,
            embed_texts: Callable[[list[str]], np.ndarray] | None = None) -> BaselineData:
    """Build :class:`BaselineData` from a loaded world (embeds behaviour texts, cached).

    ``embed_texts`` replaces the embedder (tests use a lookup table); with it, or with
    ``text_embedder="minilm"``, articles keep the world's MiniLM embeddings.
    """
    arts = world.articles
    h_days = world.history_days
    val_start = h_days - val_days
    row_of = {int(a): i for i, a in enumerate(arts["article_id"])}
    events = world.clean_events()
    texts = events["text"].astype(str)
    uniques, text_idx = np.unique(texts.to_numpy(), return_inverse=True)
    if embed_texts is not None:
        text_vecs = embed_texts(list(uniques))
    else:
        text_vecs = embed.embed_cached(list(uniques), text_embedder)
    article_text_vecs = (world.article_embeddings if embed_texts is not None
                         else world.article_vectors(text_embedder))
    article = np.array([row_of.get(int(a), -1) for a in events["article_id"]], dtype=np.int64)
    domain = events["domain"].map({d: i for i, d in enumerate(DOMAINS)}).to_numpy(np.int64)
    frame = events.assign(_text=text_idx, _domain=domain, _article=article)
    frame = frame.sort_values(["user_id", "day", "event_id"], kind="stable")
    histories = {
        int(u): UserHistory(g["day"].to_numpy(np.int64), g["_text"].to_numpy(np.int64),
                            g["_domain"].to_numpy(np.int64), g["_article"].to_numpy(np.int64))
        for u, g in frame.groupby("user_id", sort=True)}
    day = arts["day"].to_numpy(np.int64)
    val_rows = np.flatnonzero((day >= val_start) & (day < h_days))
    data = BaselineData(
        article_ids=arts["article_id"].to_numpy(np.int64),
        article_vecs=normalise_rows(world.article_embeddings),
        article_text_vecs=normalise_rows(article_text_vecs),
        article_day=day, test_rows=np.flatnonzero(arts["in_test_index"].to_numpy()),
        val_rows=val_rows, history_days=h_days, val_start=val_start,
        text_vecs=normalise_rows(text_vecs), histories=histories,
        train_users=np.sort(world.split_users("train")).astype(np.int64),
        val_users=np.sort(world.split_users("val")).astype(np.int64),
        test_users=np.sort(world.split_users("test")).astype(np.int64),
        val_targets={}, known_slot=np.zeros(len(arts), dtype=np.int64),
        text_embedder=text_embedder)
    data.val_targets = _val_targets(data)
    data.known_slot = _known_slots(data)
    return data


def _val_targets(data: BaselineData) -> dict[int, set[int]]:
    """VAL users' clicks in the validation window on articles published in it."""
    on_offer = set(data.val_rows.tolist())
    targets = {}
    for user in data.val_users:
        h = data.histories.get(int(user))
        if h is None:
            continue
        hit = {int(r) for r, d in zip(h.article, h.day, strict=True)
               if d >= data.val_start and r in on_offer}
        if hit:
            targets[int(user)] = hit
    return targets


def _known_slots(data: BaselineData) -> np.ndarray:
    """ID slots for articles TRAIN users clicked before ``val_start`` (others: slot 0)."""
    clicked = set()
    for user in data.train_users:
        clicked.update(data.clicks(int(user), data.val_start).tolist())
    slots = np.zeros(data.n_articles, dtype=np.int64)
    for i, row in enumerate(sorted(clicked)):
        slots[row] = i + 1
    return slots


def recall_at(rankings: dict[int, np.ndarray], targets: dict[int, set[int]], k: int = 10
              ) -> float:
    """Mean Recall@k of row rankings against target rows (the validation metric)."""
    values = [len(set(rankings[u][:k].tolist()) & t) / len(t)
              for u, t in targets.items() if u in rankings]
    return float(np.mean(values)) if values else 0.0
