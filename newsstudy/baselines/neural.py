"""What the neural baselines share: the article tower, batching, fit and score.

**Articles through content.** Every article in the test window is new, so no model can
have learned an ID for it. Each article is therefore represented by its frozen MiniLM
embedding projected by a learned linear layer; on the *input* side (the user's clicked
history) an ID embedding is added for articles TRAIN users clicked before the validation
window, and is zero (slot 0) for every other article. Candidates (the output side) are
always scored through content alone, since no candidate ever has an ID at test time.

**Training.** ``sampled_softmax_loss``: each target against the batch's other targets
plus ``n_negatives`` articles drawn uniformly from the history, Adam, early stopping on
validation Recall@10 (``train.fit_loop``).

**No clicks, no sequence.** A user with no news click before the cut (most cold users)
gives a click-sequence model nothing to read; such users are ranked by the ``content``
baseline instead. Users with a few clicks are read as they are.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from newsstudy.baselines.base import Baseline, TrainSettings
from newsstudy.baselines.common import BaselineData, recall_at, top_rows
from newsstudy.baselines.content import Content
from newsstudy.baselines.train import fit_loop, sampled_softmax_loss

DROPOUT = 0.1


class ItemTower(nn.Module):
    """Article rows -> vectors: linear(MiniLM) (+ ID embedding on the input side)."""

    def __init__(self, data: BaselineData, hidden: int, use_ids: bool = True):
        super().__init__()
        self.register_buffer("vecs", torch.from_numpy(data.article_vecs.astype(np.float32)))
        self.register_buffer("slots", torch.from_numpy(data.known_slot))
        self.proj = nn.Linear(self.vecs.shape[1], hidden)
        self.ids = nn.Embedding(data.n_slots, hidden, padding_idx=0) if use_ids else None
        if self.ids is not None:
            nn.init.normal_(self.ids.weight, std=0.01)
            with torch.no_grad():
                self.ids.weight[0].zero_()

    def content_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """The content-only vectors of some article rows (``table(False)[rows]``, computed
        for those rows only)."""
        return self.proj(self.vecs[rows])

    def table(self, with_ids: bool, content: torch.Tensor | None = None) -> torch.Tensor:
        """[n_articles + 1, hidden]; the last row (index n_articles) is padding (zeros).

        ``content``: the content-only table (``table(with_ids=False)``) when the caller
        has it already, so that one projection per batch serves the input side and the
        candidates.
        """
        if content is None:
            out = self.proj(self.vecs)
            content = torch.cat([out, out.new_zeros(1, out.shape[1])])
        if not (with_ids and self.ids is not None):
            return content
        ids = self.ids(self.slots)
        return content + torch.cat([ids, ids.new_zeros(1, ids.shape[1])])


def pad_left_aligned(seqs: list[np.ndarray], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences as a [B, L] tensor (padded at the end with ``pad``) and their lengths."""
    length = max(1, max((len(s) for s in seqs), default=1))
    out = np.full((len(seqs), length), pad, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return torch.from_numpy(out), torch.tensor([len(s) for s in seqs], dtype=torch.long)


def by_length(lengths, groups: int) -> list[np.ndarray]:
    """A batch's example positions in ``groups`` groups of similar length (shortest
    first). The encoders read each example on its own, so a batch encoded group by group,
    each padded only to its own longest example, gives every example the output it gets in
    one padded batch; on the default world a padded batch of click sequences was 60%
    padding."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return np.array_split(order, max(1, min(groups, len(order))))


def last_positions(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The output at each sequence's last real position: [B, L, H] -> [B, H]."""
    index = (lengths.clamp(min=1) - 1).view(-1, 1, 1).expand(-1, 1, h.shape[2])
    return h.gather(1, index).squeeze(1)


class NeuralBaseline(Baseline):
    """Common fit/score of the torch baselines; subclasses define model and batches."""

    length_groups = 4
    """Groups of similar length a training batch is encoded in (:func:`by_length`)."""

    def build(self, data: BaselineData, settings: TrainSettings) -> nn.Module:
        raise NotImplementedError

    def training_examples(self, rng: np.random.Generator) -> list:
        """One epoch of examples, shuffled (each an item ``batch_loss`` understands)."""
        raise NotImplementedError

    def batch_loss(self, examples: list) -> torch.Tensor:
        raise NotImplementedError

    def user_vectors(self, users: np.ndarray, cut: int) -> torch.Tensor:
        raise NotImplementedError

    def candidate_vectors(self, candidates: np.ndarray) -> torch.Tensor:
        """Candidates through content only (they never have an ID)."""
        return self.model.items.table(with_ids=False)[torch.from_numpy(candidates)]

    def readable(self, user: int, cut: int) -> bool:
        """Whether the model has anything to read for this user (else content fallback)."""
        return len(self.data.clicks(user, cut)) > 0

    def fit(self, data: BaselineData, settings: TrainSettings, seed: int) -> NeuralBaseline:
        self.data, self.settings = data, settings
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.model = self.build(data, settings)
        self.pool = torch.from_numpy(np.flatnonzero(data.article_day < data.history_days))
        self.fallback = Content().fit(data, settings, seed)
        optimiser = torch.optim.Adam(self.model.parameters(), lr=settings.learning_rate)

        def run_epoch(epoch: int) -> float:
            examples = self.training_examples(self.rng)
            losses = []
            for start in range(0, len(examples), settings.batch_size):
                loss = self.batch_loss(examples[start: start + settings.batch_size])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
            return float(np.mean(losses)) if losses else 0.0

        def validate() -> float:
            users = np.array(sorted(data.val_targets), dtype=np.int64)
            ranked = self.rank_rows(users, data.val_start, data.val_rows, 10)
            return recall_at(ranked, data.val_targets, 10)

        self.history = fit_loop(self.model, run_epoch, validate, settings.epochs,
                                settings.patience)
        return self

    def loss(self, user_vecs: torch.Tensor, targets: torch.Tensor,
             table: torch.Tensor | None = None) -> torch.Tensor:
        """Sampled softmax of targets against the content-only article vectors (rows of
        ``table``, when the batch has computed it already, else only the candidates')."""
        vectors = self.model.items.content_rows if table is None else table.__getitem__
        return sampled_softmax_loss(user_vecs, targets, vectors, self.settings.n_negatives,
                                    self.pool, self.generator)

    @torch.no_grad()
    def score(self, users, cut, candidates):
        self.model.eval()
        users = np.asarray(users, dtype=np.int64)
        scores = np.zeros((len(users), len(candidates)), dtype=np.float32)
        readable = np.array([self.readable(int(u), cut) for u in users], dtype=bool)
        if readable.any():
            vecs = self.user_vectors(users[readable], cut)
            scores[readable] = (vecs @ self.candidate_vectors(candidates).T).numpy()
        if (~readable).any():
            scores[~readable] = self.fallback.score(users[~readable], cut, candidates)
        return scores

    def rank_rows(self, users, cut, candidates, top_n):
        users = np.asarray(users, dtype=np.int64)
        out = {}
        for start in range(0, len(users), 512):
            chunk = users[start: start + 512]
            for u, s in zip(chunk, self.score(chunk, cut, candidates), strict=True):
                out[int(u)] = top_rows(s, candidates, top_n)
        return out
