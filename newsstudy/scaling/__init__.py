"""The two compute axes of notebook 04: model capacity (``capacity``, with FLOPs and the
size trend in ``compute``) and inference-time sampling (``best_of_n``). This package hands
their names on."""

from newsstudy.scaling.best_of_n import (
    BestOfN,
    best_of_n,
    best_of_n_study,
    diminishing_if_testable,
    diminishing_returns,
    frontier_picks,
    frontier_points,
    pick_gains,
    random_pick,
    score_samples,
    union_query_lists,
    union_scores,
)
from newsstudy.scaling.compute import (
    fit_log_linear,
    inference_flops,
    relative_to_first,
    training_flops,
)

__all__ = [
    "BestOfN",
    "best_of_n",
    "best_of_n_study",
    "diminishing_if_testable",
    "diminishing_returns",
    "frontier_picks",
    "frontier_points",
    "fit_log_linear",
    "inference_flops",
    "pick_gains",
    "random_pick",
    "relative_to_first",
    "score_samples",
    "training_flops",
    "union_query_lists",
    "union_scores",
]
