"""What 04 writes: the capacity ladder and its checks, best-of-N, and the compute frontier."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from pydantic import Field, field_validator

from newsstudy.results import Estimate, Record


class FailingGate(Record):
    """A check over the ladder's sizes, with the sizes that fail it."""

    passes: bool
    failing: list[str]


class ImitationLadderGate(FailingGate):
    """Every size imitates: each size's share of its demonstrations' Recall@10."""

    shares: dict[str, float | None]


class SpanGate(Record):
    """The ladder spans at least 30x in parameters."""

    passes: bool
    span: float


class LargestRetrieves(Record):
    """The largest size's lists retrieve something (Recall@10 above zero)."""

    passes: bool
    size: str
    recall_at_10: float


class LadderGates(Record):
    """The capacity ladder's checks."""

    sizes_imitate: ImitationLadderGate
    sizes_well_formed: FailingGate
    span_30x: SpanGate
    largest_size_retrieves: LargestRetrieves


class ValidationRow(Record):
    """One size's warm start on the validation users."""

    params: int
    sft_epochs: int | None = Field(alias="SFT epochs")
    sft_learning_rate: float | None = Field(alias="SFT learning rate")
    validation_sft_loss: float | None = Field(alias="validation SFT loss")
    recall_at_10_warm_start: float = Field(alias="R@10 (warm start, val)")
    demonstrations_recall_at_10: float = Field(alias="demonstrations' R@10")
    share_of_demonstrations: float | None = Field(alias="share of demonstrations'")
    well_formed: float = Field(alias="well-formed")
    imitation_passes: bool = Field(alias="imitation passes")
    format_passes: bool = Field(alias="format passes")


class CapacityRow(Record):
    """One size's Dr.GRPO policy on the test users, and what training it cost."""

    params: int
    recall_at_10: Estimate
    ndcg_at_10: Estimate
    recall_at_10_relative: float | None
    reward: float
    train_flops: float
    train_seconds: float | None


class LogFit(Record):
    """``metric = intercept + slope * log10(parameters)``, the slope's interval a bootstrap
    over test users."""

    intercept: float
    slope_per_decade: Estimate


class BestOfNRow(Record):
    """Best-of-N at one N: the reward's pick, a random pick, the oracle's pick, the union
    of the N lists, and the paper's reward-picked numbers."""

    recall_at_10_reward_picked: float = Field(alias="R@10 reward-picked")
    ndcg_at_10_reward_picked: float = Field(alias="N@10 reward-picked")
    recall_at_10_random_pick: float = Field(alias="R@10 random pick")
    recall_at_10_oracle: float = Field(alias="R@10 oracle")
    ndcg_at_10_oracle: float = Field(alias="N@10 oracle")
    recall_at_10_union: float = Field(alias="R@10 union")
    ndcg_at_10_union: float = Field(alias="N@10 union")
    recall_at_10_reward_picked_half: float | None = Field(None, alias="R@10 reward-picked ±")
    ndcg_at_10_reward_picked_half: float | None = Field(None, alias="N@10 reward-picked ±")
    recall_at_10_oracle_half: float | None = Field(None, alias="R@10 oracle ±")
    ndcg_at_10_oracle_half: float | None = Field(None, alias="N@10 oracle ±")
    recall_at_10_union_half: float | None = Field(None, alias="R@10 union ±")
    ndcg_at_10_union_half: float | None = Field(None, alias="N@10 union ±")
    recall_at_10_random_pick_half: float | None = Field(None, alias="R@10 random pick ±")
    recall_at_10_verifier_picked: float | None = Field(None, alias="R@10 verifier-picked")
    ndcg_at_10_verifier_picked: float | None = Field(None, alias="N@10 verifier-picked")
    recall_at_10_verifier_picked_half: float | None = Field(None,
                                                            alias="R@10 verifier-picked ±")
    ndcg_at_10_verifier_picked_half: float | None = Field(None, alias="N@10 verifier-picked ±")
    recall_at_10_paper: float | None = Field(alias="R@10 paper")
    ndcg_at_10_paper: float | None = Field(alias="N@10 paper")
    generated_tokens_per_user: float = Field(alias="generated tokens / user")


class PickGain(Estimate):
    """A pick's Recall@10 gain over a random pick at one N, paired over users."""

    p_value: float | None


class Diminishing(Record):
    """Gain per doubling of N before and after ``split``, and their paired difference."""

    split: int
    first_n: int
    last_n: int
    early_gain_per_doubling: float
    late_gain_per_doubling: float
    difference: Estimate
    p_value: float | None
    holds: bool


class VerifierCheck(Record):
    """The learned verifier (``newsstudy.scaling.verifier``): what it was trained on, and
    its checks on validation users it never saw."""

    train_users: int
    train_lists: int
    train_mean_recall_at_10: float
    train_tied_users: float
    spearman: Estimate
    users_ranked: int
    best_of_g_gain: Estimate
    n_users: int
    tied_groups: float
    passes: bool


class FrontierPoint(Record):
    """One size at one N: quality (with its 95% interval over users) and inference
    compute per user."""

    size: str
    n: int
    users: int | None = Field(None, alias="n users")
    recall_at_10: float = Field(alias="recall@10")
    recall_at_10_low: float | None = Field(None, alias="recall@10 low")
    recall_at_10_high: float | None = Field(None, alias="recall@10 high")
    ndcg_at_10: float = Field(alias="ndcg@10")
    ndcg_at_10_low: float | None = Field(None, alias="ndcg@10 low")
    ndcg_at_10_high: float | None = Field(None, alias="ndcg@10 high")
    params: int
    flops_per_user: float


class ComputeMatched(Record):
    """A smaller size at N samples against a larger size at N = 1, at no more compute."""

    larger: str = Field(alias="larger at N=1")
    smaller: str
    n_samples: int = Field(alias="N")
    flops_ratio: float = Field(alias="FLOPs ratio")
    recall_at_10_smaller: float = Field(alias="R@10 smaller")
    recall_at_10_larger: float = Field(alias="R@10 larger")
    difference: Estimate


class DistillationTeacher(Record):
    """The largest size, published for 05 to distil."""

    size: str
    params: int
    checkpoint: str


class ScalingResults(Record):
    """``04_scaling.json``."""

    profile: str
    teacher_model: str
    capacity_train_users: int
    capacity_grpo_steps: int
    sizes: list[str]
    n_eval_users: int
    n_val_users: int
    n_best_of_n_users: int
    gates: LadderGates
    validation: dict[str, ValidationRow]
    validation_loss_slope_per_decade: float
    capacity: dict[str, CapacityRow]
    capacity_fit: LogFit
    capacity_reward_fit: LogFit
    param_span: float
    distillation_teacher: DistillationTeacher
    best_of_n: dict[int, BestOfNRow]
    best_of_n_gains: dict[int, PickGain]
    best_of_n_oracle_gains: dict[int, PickGain]
    best_of_n_diminishing: Diminishing | None
    best_of_n_gain_share: dict[int, float | None]
    verifier: VerifierCheck | None = None
    best_of_n_verifier_gains: dict[int, PickGain] = {}
    best_of_n_verifier_diminishing: Diminishing | None = None
    compute_frontier: list[FrontierPoint]
    compute_matched: list[ComputeMatched]
    small_model_matches: list[str]
    timings_seconds: dict[str, float]

    @field_validator("best_of_n", "best_of_n_gains", "best_of_n_oracle_gains",
                     "best_of_n_gain_share", "best_of_n_verifier_gains")
    @classmethod
    def _by_n(cls, by_n: dict) -> dict:
        """Smallest N first (a JSON file keeps the keys as sorted text: 1, 16, 2, ...)."""
        return dict(sorted(by_n.items()))


def log_fit(fit: Mapping[str, float]) -> LogFit:
    """``scaling.fit_log_slope``'s dict as a :class:`LogFit`."""
    return LogFit(intercept=fit["intercept"],
                  slope_per_decade=Estimate.of(fit["slope_per_decade"], fit["slope_low"],
                                               fit["slope_high"]))


def capacity_rows(table: pd.DataFrame) -> dict[str, CapacityRow]:
    """``scaling.tables.capacity_fits``'s table keyed by size."""
    return {row["size"]: CapacityRow(
        params=row["params"], recall_at_10=Estimate.from_columns(row, "recall@10", row["n"]),
        ndcg_at_10=Estimate.from_columns(row, "ndcg@10", row["n"]),
        recall_at_10_relative=row["R@10 relative"], reward=row["reward"],
        train_flops=row["train_flops"], train_seconds=row["train_seconds"])
        for row in table.to_dict(orient="records")}


def gains_by_n(gains: pd.DataFrame) -> dict[int, PickGain]:
    """``scaling.pick_gains``'s table keyed by N."""
    return {int(row["N"]): PickGain(**Estimate.of(row["gain"], row["low"], row["high"],
                                                  row["n"]).model_dump(),
                                    p_value=row["p_value"])
            for row in gains.to_dict(orient="records")}


def diminishing_record(found: Mapping | None) -> Diminishing | None:
    """``scaling.diminishing_returns``'s dict (or None when not tested)."""
    if found is None:
        return None
    return Diminishing(
        **{k: found[k] for k in ("split", "first_n", "last_n", "early_gain_per_doubling",
                                 "late_gain_per_doubling", "p_value", "holds")},
        difference=Estimate.of(found["difference"], found["low"], found["high"], found["n"]))


def matched_rows(matched: pd.DataFrame) -> list[ComputeMatched]:
    """``scaling.tables.compute_matched``'s rows, the paired difference an estimate."""
    return [ComputeMatched(**{k: v for k, v in row.items()
                              if k not in ("paired diff", "low", "high", "n")},
                           difference=Estimate.of(row["paired diff"], row["low"], row["high"],
                                                  row["n"]))
            for row in matched.to_dict(orient="records")]


def verifier_record(trained: Mapping, check: Mapping) -> VerifierCheck:
    """The verifier's facts (:func:`newsstudy.scaling.verifier.train_and_check`'s
    ``training``) and its validity row (:func:`newsstudy.scaling.verifier.validity`)."""
    return VerifierCheck(
        train_users=trained["users"], train_lists=trained["lists"],
        train_mean_recall_at_10=trained["mean_recall@10"],
        train_tied_users=trained["tied_users"],
        spearman=Estimate.of(check["spearman"], check["spearman_low"], check["spearman_high"]),
        users_ranked=int(check["users_ranked"]),
        best_of_g_gain=Estimate.of(check["best_of_G_gain"], check["gain_low"],
                                   check["gain_high"], check["n_users"]),
        n_users=int(check["n_users"]), tied_groups=check["tied_groups"],
        passes=check["passes"])
