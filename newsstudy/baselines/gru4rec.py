"""GRU4Rec-style baseline (Hidasi et al., ICLR 2016, "Session-based recommendations
with recurrent neural networks"; Hidasi & Karatzoglou, CIKM 2018 for the sampled loss).

Simplified: one GRU layer over the user's whole click history (no session splitting,
no session-parallel mini-batches), clicked articles enter as content vectors (+ ID where
known, see ``neural``), trained with sampled softmax instead of BPR-max/TOP1-max.
"""

from __future__ import annotations

from torch import nn

from newsstudy.baselines.sequential import SequentialBaseline


class GRUEncoder(nn.Module):
    """One GRU layer; causal by construction."""

    def __init__(self, hidden: int):
        super().__init__()
        self.gru = nn.GRU(hidden, hidden, batch_first=True)

    def forward(self, x, lengths):
        return self.gru(x)[0]


class GRU4Rec(SequentialBaseline):
    """Next-click GRU over clicked articles' content vectors."""

    name = "gru4rec"
    length_groups = 1  # a GRU's cost is per time step, which groups would repeat

    def make_encoder(self, settings):
        return GRUEncoder(settings.hidden)
