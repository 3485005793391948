"""The interface every baseline implements, and the settings they share."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from newsstudy.baselines.common import BaselineData, top_rows


@dataclass(frozen=True)
class TrainSettings:
    """Training settings: the BaselinesParams fields of the same names, whose values (and
    defaults) come from there (:meth:`from_params`)."""

    epochs: int
    patience: int
    hidden: int
    max_history: int
    learning_rate: float
    batch_size: int
    n_negatives: int
    knn: int

    @classmethod
    def from_params(cls, params) -> TrainSettings:
        """Take the fields of the same names from a params object."""
        return cls(**{f.name: getattr(params, f.name) for f in fields(cls)})


class Baseline:
    """A recommender: ``fit(data, settings, seed)``, then ``rank(users)``.

    Subclasses implement ``score(users, cut, candidates)``: one row of scores per user
    over candidate article rows, reading only the users' events before day ``cut``.
    """

    name = "baseline"

    def __init__(self):
        self.data: BaselineData | None = None
        self.history: list[dict] = []  # per-epoch log of trained models

    def fit(self, data: BaselineData, settings: TrainSettings, seed: int) -> Baseline:
        """Remember the data; models with parameters train here."""
        self.data = data
        return self

    def score(self, users: np.ndarray, cut: int, candidates: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def rank_rows(self, users, cut: int, candidates: np.ndarray, top_n: int
                  ) -> dict[int, np.ndarray]:
        """Top ``top_n`` candidate rows per user."""
        users = np.asarray(users, dtype=np.int64)
        scores = self.score(users, cut, candidates)
        return {int(u): top_rows(s, candidates, top_n) for u, s in zip(users, scores, strict=True)}

    def rank(self, users, top_n: int = 100) -> dict[int, list[int]]:
        """Rankings (article ids) over the test-window index from the whole history."""
        data = self.data
        rows = self.rank_rows(users, data.history_days, data.test_rows, top_n)
        return {u: data.ids(r) for u, r in rows.items()}
