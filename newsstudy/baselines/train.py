"""The training loop every neural baseline shares: epochs, validation, early stopping.

After each epoch the model is scored on the validation users (Recall@10 of their
held-out last days, see ``common``); training stops after ``patience`` epochs without a
gain and the weights of the best epoch are restored.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch


def fit_loop(model: torch.nn.Module, run_epoch: Callable[[int], float],
             validate: Callable[[], float], epochs: int, patience: int) -> list[dict]:
    """Train with early stopping on ``validate()`` (higher is better); one log row per epoch."""
    best, best_state, bad, log = float("-inf"), None, 0, []
    for epoch in range(epochs):
        started = time.perf_counter()
        model.train()
        loss = run_epoch(epoch)
        model.eval()
        with torch.no_grad():
            score = validate()
        log.append({"epoch": epoch + 1, "loss": float(loss), "val_recall@10": float(score),
                    "seconds": round(time.perf_counter() - started, 3)})
        if score > best + 1e-9:
            best, best_state, bad = score, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return log


def sampled_softmax_loss(user_vecs: torch.Tensor, targets: torch.Tensor,
                         item_vectors: Callable[[torch.Tensor], torch.Tensor],
                         n_negatives: int, pool: torch.Tensor,
                         generator: torch.Generator) -> torch.Tensor:
    """Cross-entropy of each target among in-batch targets plus shared sampled negatives.

    ``user_vecs`` [N, H], ``targets`` [N] article rows, ``item_vectors`` article rows ->
    their vectors [n, H] (only the candidates' are asked for), ``pool`` the article rows
    negatives are drawn from (uniformly).
    """
    negatives = pool[torch.randint(len(pool), (n_negatives,), generator=generator)]
    candidates, inverse = torch.unique(torch.cat([targets, negatives]), return_inverse=True)
    logits = user_vecs @ item_vectors(candidates).T
    return torch.nn.functional.cross_entropy(logits, inverse[: len(targets)])
