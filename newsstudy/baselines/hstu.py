"""HSTU-style baseline (Zhai et al., ICML 2024, "Actions speak louder than words",
arXiv:2402.17152): Hierarchical Sequential Transduction Units.

Each layer: ``U, V, Q, K = split(SiLU(f1(x)))``; pointwise attention
``A = SiLU(Q K^T + rab) / n`` over the causal past (no softmax; ``n`` = number of
visible positions), ``y = f2(LayerNorm(A V) * U)``, residual. ``rab`` is a learned
relative-position bias per head. Simplified: two small layers, no time buckets in the
bias, no generative (interleaved action) formulation; sampled softmax on next click.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from newsstudy.baselines.neural import DROPOUT
from newsstudy.baselines.sequential import SequentialBaseline, causal_mask

N_LAYERS, N_HEADS = 2, 2


class HSTULayer(nn.Module):
    """One pointwise gated attention layer."""

    def __init__(self, hidden: int, max_len: int, heads: int = N_HEADS):
        super().__init__()
        self.heads, self.max_len = heads, max_len
        self.norm_in = nn.LayerNorm(hidden)
        self.f1 = nn.Linear(hidden, 4 * hidden)
        self.f2 = nn.Linear(hidden, hidden)
        self.norm_av = nn.LayerNorm(hidden)
        self.rab = nn.Embedding(2 * max_len - 1, heads)
        nn.init.zeros_(self.rab.weight)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, hidden = x.shape
        u, v, q, k = F.silu(self.f1(self.norm_in(x))).chunk(4, dim=-1)
        split = lambda t: t.view(b, length, self.heads, -1).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
        pos = torch.arange(length)
        bias = self.rab((pos[None, :] - pos[:, None]).clamp(-self.max_len + 1,
                                                            self.max_len - 1)
                        + self.max_len - 1).permute(2, 0, 1)
        mask = causal_mask(length).float()
        scores = F.silu(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + bias) * mask
        scores = scores / mask.sum(-1, keepdim=True)
        av = (scores @ v).transpose(1, 2).reshape(b, length, hidden)
        return x + self.dropout(self.f2(self.norm_av(av) * u))


class HSTUEncoder(nn.Module):
    """A stack of HSTU layers and a final LayerNorm."""

    def __init__(self, hidden: int, max_len: int):
        super().__init__()
        self.layers = nn.ModuleList(HSTULayer(hidden, max_len) for _ in range(N_LAYERS))
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x, lengths):
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class HSTU(SequentialBaseline):
    """Next-click pointwise gated attention over clicked articles' content vectors."""

    name = "hstu"

    def make_encoder(self, settings):
        return HSTUEncoder(settings.hidden, settings.max_history)
