"""The reward ablation of notebook 03: the paper's teacher retrained without each of its
rewards (weight 0), otherwise identical to its first seed, each run paired with the
teacher of all five on the same test users. The paper finds every reward helps and
dropping R_cov hurts most."""

from __future__ import annotations

import dataclasses

import pandas as pd

from newsstudy import evaluation
from newsstudy.rewards import RewardWeights
from newsstudy.teacher.pipeline import PolicyPipeline, evaluate_checkpoint


def weights_without(weights: RewardWeights, dropped: list[str]) -> dict[str, RewardWeights]:
    """The reward ablation's weights: for each dropped reward, ``weights`` with it at 0."""
    return {name: dataclasses.replace(weights, **{name: 0.0}) for name in dropped}


def evaluate(pipeline: PolicyPipeline, serving, users, per_user: pd.DataFrame,
                        teacher_lists: dict[int, str], ablation_weights: dict[str, RewardWeights],
                        method: str = "RL teacher"):
    """The reward ablation on the test users: the first seed's teacher of the paper's
    rewards (rows ``method`` of ``per_user``, not evaluated again) as ``all five``, then one
    teacher per dropped reward.

    Returns the long per-user table and each run's lists.
    """
    seed = pipeline.settings.seed
    first = per_user[(per_user["method"] == method) & (per_user["seed"] == seed)]
    frames = [first.assign(method="all five")]
    outputs = {"all five": teacher_lists}
    for dropped, weights in ablation_weights.items():
        frame, completions = evaluate_checkpoint(pipeline, serving, f"without {dropped}",
                                                 pipeline.teacher(seed, weights, "paper"),
                                                 seed, users)
        frames.append(frame.rename_axis("user").reset_index())
        outputs[f"without {dropped}"] = completions
    return pd.concat(frames), outputs


def paired(ablation_long: pd.DataFrame) -> pd.DataFrame:
    """Each ablated run minus ``all five``, test R@10, paired over users."""
    return evaluation.paired_table(ablation_long, "method", "recall@10", "all five")
