"""The paper's baselines, trained and scored on the study's split and protocol.

Data protocol (``common.prepare``):

* **Inputs** are the cleaned observable events (``kept``) of the history window only.
  Held-out clicks (``test_clicks``) of VAL and TEST users are never read for training
  or model selection; they are read only by ``evaluation.evaluate_rankings``.
* **Training**: TRAIN users' history news clicks, as next-click prediction over their
  click sequences (NRHUB: the events before a click -> that click).
* **Validation / early stopping**: VAL users. Their last ``val_days`` history days are
  held out; the input is the earlier history, the targets their clicks on articles
  published in those days, ranked among all articles published then (Recall@10).
* **Test**: TEST users, input = the whole cleaned history; output = the top ``top_n``
  articles among those in the test-window index (``in_test_index``), scored by the
  shared protocol (``evaluation.evaluate_rankings``), warm and cold users apart.
* **Fresh articles**: articles of the test window have no interactions in training, so
  every model scores candidates through content: the frozen MiniLM embedding projected
  by a learned linear layer (``neural.ItemTower``); ID embeddings exist only on the input
  side, for articles TRAIN users clicked before the validation window, zero otherwise.
* **Cold users**: click-sequence models (GRU4Rec, SASRec, HSTU, PinSage) fall back to
  the ``content`` ranking for users with no news click to read; NRHUB and content read
  searches and browsing too, so they serve cold users directly.

Models (one module each): ``popularity``, ``content``, ``gru4rec``, ``sasrec``, ``hstu``,
``nrhub``, ``pinsage``; ``train`` holds the shared loop, ``report`` runs them all.
"""

from __future__ import annotations

from newsstudy.baselines.base import Baseline, TrainSettings
from newsstudy.baselines.common import BaselineData, prepare
from newsstudy.baselines.content import Content
from newsstudy.baselines.gru4rec import GRU4Rec
from newsstudy.baselines.hstu import HSTU
from newsstudy.baselines.nrhub import NRHUB
from newsstudy.baselines.pinsage import PinSage
from newsstudy.baselines.popularity import Popularity
from newsstudy.baselines.sasrec import SASRec

BASELINES: dict[str, type[Baseline]] = {
    "gru4rec": GRU4Rec,
    "sasrec": SASRec,
    "nrhub": NRHUB,
    "pinsage": PinSage,
    "hstu": HSTU,
    "popularity": Popularity,
    "content": Content,
}
"""Name -> class, in the paper's row order (then the two simple references)."""

TRAINED = frozenset({"gru4rec", "sasrec", "nrhub", "pinsage", "hstu"})
"""Baselines with parameters (trained once per seed); the others are deterministic."""

__all__ = ["BASELINES", "TRAINED", "Baseline", "BaselineData", "TrainSettings", "prepare"]
