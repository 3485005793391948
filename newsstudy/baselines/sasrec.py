"""SASRec-style baseline (Kang & McAuley, ICDM 2018, "Self-attentive sequential
recommendation").

Simplified: two pre-norm causal self-attention blocks (2 heads, learned absolute
positions), clicked articles as content vectors (+ ID where known), sampled softmax
instead of SASRec's one-negative binary cross-entropy.
"""

from __future__ import annotations

import torch
from torch import nn

from newsstudy.baselines.neural import DROPOUT
from newsstudy.baselines.sequential import SequentialBaseline, causal_mask

N_LAYERS, N_HEADS = 2, 2


class SASRecEncoder(nn.Module):
    """Positions + causal Transformer blocks (padding sits after the real positions)."""

    def __init__(self, hidden: int, max_len: int):
        super().__init__()
        self.positions = nn.Embedding(max_len, hidden)
        layer = nn.TransformerEncoderLayer(hidden, N_HEADS, 2 * hidden, DROPOUT,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, N_LAYERS, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x, lengths):
        length = x.shape[1]
        x = x + self.positions(torch.arange(length))[None]
        mask = ~causal_mask(length)  # True = may NOT attend
        return self.norm(self.blocks(x, mask=mask))


class SASRec(SequentialBaseline):
    """Next-click causal self-attention over clicked articles' content vectors."""

    name = "sasrec"

    def make_encoder(self, settings):
        return SASRecEncoder(settings.hidden, settings.max_history)
