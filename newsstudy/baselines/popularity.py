"""Popularity: what was clicked most lately, carried over to fresh articles by content.

Every article of the test window is new: it has no clicks yet, so a plain click count
cannot rank it. The rule used here: an article is as popular as its ``knn`` nearest
(MiniLM cosine) *older* articles were in the last ``RECENT_DAYS`` days before the cut,
i.e. sum over those neighbours of ``cosine * clicks`` (clicks of all users' cleaned
history, which production would log). It ranks fresh stories on trending subjects first,
the same list for every user. Reference: the "MostPop" baseline of every news study
(e.g. MIND, ACL 2020), adapted to cold items.
"""

from __future__ import annotations

import numpy as np

from newsstudy.baselines.base import Baseline, TrainSettings
from newsstudy.baselines.common import BaselineData

RECENT_DAYS = 7


def recent_clicks(data: BaselineData, cut: int, days: int = RECENT_DAYS) -> np.ndarray:
    """Clicks per article row over all users' history in days ``[cut - days, cut)``."""
    counts = np.zeros(data.n_articles)
    for h in data.histories.values():
        keep = (h.article >= 0) & (h.day < cut) & (h.day >= cut - days)
        np.add.at(counts, h.article[keep], 1.0)
    return counts


def neighbour_popularity(data: BaselineData, cut: int, candidates: np.ndarray, knn: int
                         ) -> np.ndarray:
    """Per candidate: sum of cosine * recent clicks over its ``knn`` nearest older articles."""
    older = np.flatnonzero(data.article_day < cut)
    counts = recent_clicks(data, cut)[older]
    sims = data.article_vecs[candidates] @ data.article_vecs[older].T
    k = min(knn, len(older))
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return (np.take_along_axis(sims, top, 1) * counts[top]).sum(axis=1)


class Popularity(Baseline):
    """Same ranking for everyone: fresh articles near recently popular ones first."""

    name = "popularity"

    def fit(self, data: BaselineData, settings: TrainSettings, seed: int) -> Popularity:
        self.data, self.knn = data, settings.knn
        return self

    def score(self, users, cut, candidates):
        scores = neighbour_popularity(self.data, cut, candidates, self.knn)
        return np.broadcast_to(scores, (len(users), len(candidates)))
