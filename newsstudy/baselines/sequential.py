"""Click-sequence models: next-click prediction over each user's news clicks.

Training examples: each TRAIN user's last ``max_history + 1`` cleaned news clicks; the
model reads clicks ``1..t`` and predicts click ``t + 1`` at every position at once
(causal encoders), as in SASRec. At serving the output at the last click is the user
vector, scored by dot product against the candidates' content vectors.
Subclasses only supply the sequence encoder: ``(x [B, L, H], lengths [B]) -> [B, L, H]``,
where position ``t`` may only see positions ``<= t``.
"""

from __future__ import annotations

import torch
from torch import nn

from newsstudy.baselines.base import TrainSettings
from newsstudy.baselines.common import BaselineData
from newsstudy.baselines.neural import (
    DROPOUT,
    ItemTower,
    NeuralBaseline,
    by_length,
    last_positions,
    pad_left_aligned,
)


class SequenceModel(nn.Module):
    """Article tower, input dropout, then a causal sequence encoder."""

    def __init__(self, items: nn.Module, encoder: nn.Module):
        super().__init__()
        self.items, self.encoder = items, encoder
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, seqs: torch.Tensor, lengths: torch.Tensor,
                content: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder outputs [B, L, H] (``content``: the tower's content-only table, if at hand)."""
        x = self.dropout(self.items.table(with_ids=True, content=content)[seqs])
        return self.encoder(x, lengths)


class SequentialBaseline(NeuralBaseline):
    """A NeuralBaseline whose user is the encoder's output after the last click."""

    def make_encoder(self, settings: TrainSettings) -> nn.Module:
        raise NotImplementedError

    def make_items(self, data: BaselineData, settings: TrainSettings) -> nn.Module:
        return ItemTower(data, settings.hidden)

    def build(self, data, settings):
        self._train_seqs = None
        return SequenceModel(self.make_items(data, settings), self.make_encoder(settings))

    def training_examples(self, rng):
        if self._train_seqs is None:
            keep = self.settings.max_history + 1
            seqs = (self.data.clicks(int(u), self.data.history_days)[-keep:]
                    for u in self.data.train_users)
            self._train_seqs = [s for s in seqs if len(s) >= 2]
        return [self._train_seqs[i] for i in rng.permutation(len(self._train_seqs))]

    def batch_loss(self, examples):
        """Sampled softmax of every next click of the batch's sequences, encoded in
        groups of similar length (:func:`by_length`)."""
        pad = self.data.n_articles
        content = self.model.items.table(with_ids=False)  # one projection for both sides
        outputs, targets = [], []
        for group in by_length([len(s) for s in examples], self.length_groups):
            seqs, lengths = pad_left_aligned([examples[i][:-1] for i in group], pad)
            nexts, _ = pad_left_aligned([examples[i][1:] for i in group], pad)
            valid = torch.arange(seqs.shape[1])[None, :] < lengths[:, None]
            outputs.append(self.model(seqs, lengths, content)[valid])
            targets.append(nexts[valid])
        return self.loss(torch.cat(outputs), torch.cat(targets), content)

    def user_vectors(self, users, cut):
        seqs = [self.data.clicks(int(u), cut)[-self.settings.max_history:] for u in users]
        padded, lengths = pad_left_aligned(seqs, self.data.n_articles)
        return last_positions(self.model(padded, lengths), lengths)


def causal_mask(length: int) -> torch.Tensor:
    """Boolean [L, L]: True where position i may attend to position j (j <= i)."""
    return torch.ones(length, length, dtype=torch.bool).tril()
