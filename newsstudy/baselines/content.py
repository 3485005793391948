"""Content: the mean embedding of the user's cleaned behaviour, nearest fresh articles.

The user vector is the mean of the sentence embeddings of every kept event before the
cut (searches, web pages and news titles alike); articles are ranked by cosine to it.
No training. With ``text_embedder="static"`` both the texts and the articles are
embedded by the static model2vec embedder (the two spaces must not be mixed).
Users with no events score every candidate 0 (ties keep the index order).
This is also the fallback of the click-sequence models for users with no news clicks.
"""

from __future__ import annotations

import numpy as np

from newsstudy.baselines.base import Baseline
from newsstudy.baselines.common import BaselineData


def mean_text_vector(data: BaselineData, user: int, cut: int) -> np.ndarray:
    """Mean text embedding of the user's events before ``cut`` (zeros if none)."""
    h = data.before(user, cut)
    if len(h.text) == 0:
        return np.zeros(data.text_vecs.shape[1], dtype=np.float32)
    return data.text_vecs[h.text].mean(axis=0)


class Content(Baseline):
    """Cosine between the mean behaviour embedding and each candidate article."""

    name = "content"

    def score(self, users, cut, candidates):
        user_vecs = np.stack([mean_text_vector(self.data, u, cut) for u in users])
        return user_vecs @ self.data.article_text_vecs[candidates].T
