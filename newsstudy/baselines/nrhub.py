"""NRHUB-style baseline (Wu et al., WSDM 2019, "Neural news recommendation with
heterogeneous user behavior").

The user encoder reads all three behaviour streams: every kept event's text (search
query, web page title, clicked news title) is embedded (frozen sentence embedding,
``text_embedder``) and projected (``tanh(W x)``); an additive attention pools each
domain's events into one vector, and a second attention pools the domain vectors into
the user vector, matched by dot product against the candidates' content vectors.

Training examples: for each TRAIN user, ``CUTS_PER_USER`` random news clicks per epoch;
the input is the user's last ``max_history`` events *before* that click, the target
the clicked article (sampled softmax, as for the other neural baselines).
Simplified: NRHUB's word-level CNN + attention text encoders are replaced by the frozen
sentence embedding plus a linear layer; no separate browsing-encoder CNN.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from newsstudy.baselines.common import DOMAINS
from newsstudy.baselines.neural import DROPOUT, ItemTower, NeuralBaseline, by_length

CUTS_PER_USER = 2


class AdditiveAttention(nn.Module):
    """``softmax(q . tanh(W x))`` pooling over masked positions (all masked -> zeros)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.proj = nn.Linear(hidden, hidden)
        self.query = nn.Parameter(torch.randn(hidden) * 0.1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = torch.tanh(self.proj(x)) @ self.query
        logits = logits.masked_fill(~mask, float("-inf"))
        weights = torch.nan_to_num(torch.softmax(logits, dim=-1), nan=0.0)
        return (weights.unsqueeze(-1) * x).sum(-2)


class NRHUBModel(nn.Module):
    """Events -> per-domain attention -> cross-domain attention -> user vector."""

    def __init__(self, data, hidden: int):
        super().__init__()
        self.register_buffer("texts", torch.from_numpy(data.text_vecs.astype(np.float32)))
        self.items = ItemTower(data, hidden, use_ids=False)
        self.text_proj = nn.Linear(self.texts.shape[1], hidden)
        self.domain_att = nn.ModuleList(AdditiveAttention(hidden) for _ in DOMAINS)
        self.user_att = AdditiveAttention(hidden)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, text: torch.Tensor, domain: torch.Tensor, mask: torch.Tensor):
        x = self.dropout(torch.tanh(self.text_proj(self.texts[text])))
        pooled, present = [], []
        for d, att in enumerate(self.domain_att):
            m = mask & (domain == d)
            pooled.append(att(x, m))
            present.append(m.any(-1))
        return self.user_att(torch.stack(pooled, 1), torch.stack(present, 1))


class NRHUB(NeuralBaseline):
    """Heterogeneous-behaviour user encoder vs content article tower."""

    name = "nrhub"

    def build(self, data, settings):
        return NRHUBModel(data, settings.hidden)

    def readable(self, user, cut):
        return len(self.data.before(user, cut).text) > 0

    def training_examples(self, rng):
        examples = []
        for user in self.data.train_users:
            h = self.data.histories.get(int(user))
            if h is None:
                continue
            clicks = np.flatnonzero((h.article >= 0) & (np.arange(len(h.article)) > 0))
            if len(clicks) == 0:
                continue
            for i in rng.choice(clicks, min(CUTS_PER_USER, len(clicks)), replace=False):
                start = max(0, i - self.settings.max_history)
                examples.append((h.text[start:i], h.domain[start:i], int(h.article[i])))
        return [examples[i] for i in rng.permutation(len(examples))]

    def _encode(self, events: list[tuple[np.ndarray, np.ndarray]]) -> torch.Tensor:
        length = max(1, max(len(t) for t, _ in events))
        text = np.zeros((len(events), length), dtype=np.int64)
        domain = np.zeros_like(text)
        mask = np.zeros(text.shape, dtype=bool)
        for row, (t, d) in enumerate(events):
            text[row, : len(t)], domain[row, : len(t)], mask[row, : len(t)] = t, d, True
        return self.model(torch.from_numpy(text), torch.from_numpy(domain),
                          torch.from_numpy(mask))

    def batch_loss(self, examples):
        """Sampled softmax of each cut's next click, the cuts encoded in groups of similar
        length (:func:`by_length`)."""
        groups = by_length([len(t) for t, _, _ in examples], self.length_groups)
        user_vecs = torch.cat([self._encode([examples[i][:2] for i in group])
                               for group in groups])
        return self.loss(user_vecs, torch.tensor([examples[i][2] for group in groups
                                                  for i in group]))

    def user_vectors(self, users, cut):
        views = [self.data.before(int(u), cut) for u in users]
        return self._encode([(v.text[-self.settings.max_history:],
                              v.domain[-self.settings.max_history:]) for v in views])
