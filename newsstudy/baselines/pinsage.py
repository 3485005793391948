"""PinSage-style baseline (Ying et al., KDD 2018, "Graph convolutional neural networks
for web-scale recommender systems").

The graph: articles are nodes. Co-click edges join articles clicked within
``COCLICK_WINDOW`` consecutive clicks by a TRAIN user before the validation window
(weights = counts). Content edges join each article to its ``knn`` nearest articles by
MiniLM cosine, so fresh articles (no clicks at all) are connected too. The two edge
sets are row-normalised separately and averaged (a fresh article has content edges
only). Two residual graph convolutions, ``h' = h + ReLU(W [h, A h])`` with weighted-mean
neighbour pooling, turn projected MiniLM features into article vectors.

Simplified: full-graph convolutions (the corpus is small) instead of random-walk
neighbourhood sampling and producer/consumer mini-batches; the importance pooling of
PinSage is approximated by edge-weight (co-click count / cosine) pooling; PinSage ranks
items for items, so the user vector here is a learned projection of the running mean
of the user's clicked-article vectors, trained with the same next-click sampled softmax
as the sequence models (in place of PinSage's max-margin loss).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import sparse
from torch import nn

from newsstudy.baselines.common import BaselineData
from newsstudy.baselines.sequential import SequentialBaseline

COCLICK_WINDOW = 3


def coclick_matrix(data: BaselineData, window: int = COCLICK_WINDOW) -> sparse.csr_matrix:
    """Symmetric co-click counts over TRAIN users' clicks before ``val_start``."""
    rows, cols = [], []
    for user in data.train_users:
        clicks = data.clicks(int(user), data.val_start)
        for lag in range(1, window):
            a, b = clicks[:-lag], clicks[lag:]
            keep = a != b
            rows.extend(a[keep]), cols.extend(b[keep])
    n = data.n_articles
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return (m + m.T).tocsr()


def knn_matrix(vecs: np.ndarray, k: int) -> sparse.csr_matrix:
    """Each row's ``k`` nearest other rows by cosine (weights = cosine, clipped at 0)."""
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    weights = np.clip(np.take_along_axis(sims, top, 1), 0, None)
    rows = np.repeat(np.arange(len(vecs)), k)
    return sparse.csr_matrix((weights.ravel(), (rows, top.ravel())), shape=(len(vecs),) * 2)


def row_normalise(m: sparse.csr_matrix) -> sparse.csr_matrix:
    sums = np.asarray(m.sum(axis=1)).ravel()
    return sparse.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ m


def article_graph(data: BaselineData, k: int) -> torch.Tensor:
    """The normalised adjacency (torch sparse) of co-click and content edges."""
    co = row_normalise(coclick_matrix(data))
    kn = row_normalise(knn_matrix(data.article_vecs, min(k, data.n_articles - 1)))
    has_co = np.asarray(co.sum(axis=1)).ravel() > 0
    adj = (sparse.diags(np.where(has_co, 0.5, 0.0)) @ co
           + sparse.diags(np.where(has_co, 0.5, 1.0)) @ kn).tocoo()
    index = torch.from_numpy(np.vstack([adj.row, adj.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(adj.data.astype(np.float32)),
                                   adj.shape, check_invariants=True).coalesce()


class GraphProduct(torch.autograd.Function):
    """``adjacency @ h`` for a constant sparse adjacency (CSR), with its gradient
    ``adjacency.T @ grad`` from a transpose made once. (``torch.sparse.mm`` on a COO
    matrix transposes and sorts it again at every backward: 8.7 ms against 1.5 ms for one
    product and its gradient on the default world's graph.)"""

    @staticmethod
    def forward(ctx, h, adjacency, transposed):
        ctx.transposed = transposed
        return adjacency @ h

    @staticmethod
    def backward(ctx, grad):
        return ctx.transposed @ grad, None, None


def csr(matrix: torch.Tensor) -> torch.Tensor:
    """A sparse torch matrix in CSR form (its beta-state warning silenced)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return matrix.to_sparse_csr()


class GraphTower(nn.Module):
    """Two graph convolutions over projected MiniLM features; same interface as ItemTower."""

    def __init__(self, data: BaselineData, hidden: int, k: int):
        super().__init__()
        self.register_buffer("vecs", torch.from_numpy(data.article_vecs.astype(np.float32)))
        adjacency = article_graph(data, k)
        self.adj, self.adj_t = csr(adjacency), csr(adjacency.t().coalesce())
        self.inp = nn.Linear(self.vecs.shape[1], hidden)
        self.conv1 = nn.Linear(2 * hidden, hidden)
        self.conv2 = nn.Linear(2 * hidden, hidden)

    def table(self, with_ids: bool = False, content: torch.Tensor | None = None
              ) -> torch.Tensor:
        """[n_articles + 1, hidden] graph-convolved vectors (no IDs: ``with_ids`` is
        ignored; ``content``: this table, if the caller has it already)."""
        if content is not None:
            return content
        h = self.inp(self.vecs)
        h = h + torch.relu(self.conv1(torch.cat([h, self.neighbours(h)], 1)))
        h = h + self.conv2(torch.cat([h, self.neighbours(h)], 1))
        return torch.cat([h, h.new_zeros(1, h.shape[1])])

    def content_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Some rows of :meth:`table`."""
        return self.table()[rows]

    def neighbours(self, h: torch.Tensor) -> torch.Tensor:
        """Each article's weighted mean of its neighbours' vectors."""
        return GraphProduct.apply(h, self.adj, self.adj_t)


class RunningMean(nn.Module):
    """User after click t = projection of the mean of article vectors 1..t (causal)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x, lengths):
        counts = torch.arange(1, x.shape[1] + 1, dtype=x.dtype)[None, :, None]
        return self.out(x.cumsum(1) / counts)


class PinSage(SequentialBaseline):
    """Graph-convolved article vectors; user = running mean of clicked-article vectors."""

    name = "pinsage"

    def make_items(self, data, settings):
        return GraphTower(data, settings.hidden, settings.knn)

    def make_encoder(self, settings):
        return RunningMean(settings.hidden)
