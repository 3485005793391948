"""Compute of the ladder: FLOPs per training and inference token, and the log-linear
trend of a metric against parameters.

Compute estimates use the usual dense-transformer rules of thumb (Kaplan et al. 2020):
a forward pass costs about ``2 * N`` FLOPs per token for ``N`` parameters, a training step
(forward and backward) about ``6 * N`` per token. Attention's extra cost is ignored: at
these context lengths (< 200 tokens) and widths it is a small share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def training_flops(n_params: int, n_tokens: float) -> float:
    """Training compute: ``6 * n_params * n_tokens`` (forward + backward)."""
    return 6.0 * float(n_params) * float(n_tokens)


def inference_flops(n_params: int, prompt_tokens: float, generated_tokens: float) -> float:
    """Forward compute of reading a prompt and writing ``generated_tokens``: ``2 * N * T``."""
    return 2.0 * float(n_params) * (float(prompt_tokens) + float(generated_tokens))


def fit_log_linear(x: Sequence[float], per_size: Sequence[np.ndarray], n_boot: int = 2000,
                   seed: int = 0) -> dict[str, float]:
    """Least-squares fit of ``mean(metric) = a + b * log10(x)`` with a bootstrap interval.

    ``per_size[i]`` holds the per-user values at size ``x[i]``. The bootstrap resamples
    users within each size (the sizes are fixed), refits, and reports the 2.5/97.5
    percentiles of the slope ``b`` (the gain per tenfold parameters).
    """
    x = np.log10(np.asarray(x, dtype=float))
    if len(x) != len(per_size) or len(x) < 2:
        raise ValueError("need one array of per-user values per size, and at least 2 sizes")
    means = np.array([np.mean(v) for v in per_size])
    slope, intercept = np.polyfit(x, means, 1)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        resampled = [np.mean(v[rng.integers(0, len(v), len(v))]) for v in per_size]
        boots[b] = np.polyfit(x, resampled, 1)[0]
    low, high = np.percentile(boots, [2.5, 97.5])
    return {"slope_per_decade": float(slope), "intercept": float(intercept),
            "slope_low": float(low), "slope_high": float(high)}


def relative_to_first(values: Mapping[str, float]) -> dict[str, float]:
    """Each value divided by the first one (for drawing two studies on one scale)."""
    items = list(values.items())
    base = items[0][1]
    return {k: v / base for k, v in items}
