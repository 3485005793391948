"""What 03 writes: the teacher's instrument checks, its offline table, the reward
ablation, and what each check was computed from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from pydantic import Field

from newsstudy.gates import EntropyGate, FormatGate, ImitationGate
from newsstudy.metrics import DEFAULT_METRICS
from newsstudy.results import (
    Estimate,
    MetricEstimates,
    MetricValues,
    Paired,
    PairedGate,
    Record,
    keyed,
)


class Decoding(Record):
    """The one decoding that serves lists and GRPO's rollouts."""

    temperature: float
    top_p: float
    max_new_tokens: int
    duplicate_guard: bool
    guard_version: int


class TeacherGates(Record):
    """The teacher's instrument checks: imitation, reward validity and GRPO's improvement on
    validation users, the format of the lists served to the test users, and the entropy of
    each GRPO run."""

    imitation: ImitationGate
    format: FormatGate
    entropy: EntropyGate
    reward_validity: PairedGate
    grpo_improves: PairedGate


class DecodingRow(Record):
    """The prompt-only policy under one decoding, on validation users."""

    decoding: str
    recall_at_10: float = Field(alias="R@10")
    share_of_demonstrations: float | None = Field(alias="share of demonstrations' R@10")
    well_formed: float = Field(alias="well-formed")
    repeats_a_query: float = Field(alias="repeats a query")
    words_in_prompt: float = Field(alias="words in prompt")


class SizeImitation(Record):
    """How well one model size imitates the demonstrations after SFT."""

    size: str
    parameters: int | None  # None: a model whose size the study does not know
    recall_at_10: float = Field(alias="recall@10")
    words_in_prompt: float = Field(alias="words in prompt")
    sft_loss: float | None = Field(alias="SFT loss")


class CurvePoint(Record):
    """The prompt-only policy during SFT, on validation users."""

    step: int
    recall_at_10: float = Field(alias="recall@10")
    well_formed: float = Field(alias="well-formed")
    words_in_prompt: float = Field(alias="words in prompt")


class RewardValidity(Record):
    """One reward on the policy's own samples: within-user Spearman with R@10, and the
    R@10 gain of its best-of-G pick over a random pick (paired over users)."""

    reward: str
    spearman: Estimate
    best_of_g_gain: Estimate


class OfflineRow(Record):
    """A policy's offline metrics on the test users (seeds pooled), and how much its R@10
    moves with the seed alone."""

    metrics: MetricEstimates
    seeds: int
    recall_at_10_seed_std: float | None


class AblationRow(Record):
    """The teacher trained with all rewards, or without one."""

    recall_at_10: Estimate
    ndcg_at_10: Estimate


class InterestQuality(Record):
    """How many latent interests a policy's lists cover, and how precise its queries are."""

    interest_coverage: float | None
    query_precision: float | None


class TrainingSeconds(Record):
    """Training time recorded in the checkpoints (when they were trained)."""

    sft: float | None
    grpo_per_seed: list[float | None]


class TeacherResults(Record):
    """``03_grpo.json``."""

    profile: str
    model: str
    parameters: int | None  # None: a model whose size the study does not know
    lora_rank: int
    seeds: list[int]
    n_eval_users: int
    n_val_users: int
    decoding: Decoding
    gates: TeacherGates
    instrument_ok: bool
    decoding_table: list[DecodingRow]
    imitation_by_size: list[SizeImitation]
    imitation_curve: list[CurvePoint]
    demonstrations_recall_at_10: float
    reward_validity: list[RewardValidity]
    grpo_improvement: dict[str, Paired]
    weights: dict[str, float]
    offline: dict[str, OfflineRow]
    rl_minus_prompt_only: Paired
    lift_rl_over_prompt_only: MetricValues
    ablation: dict[str, AblationRow]
    ablation_paired: list[Paired]
    interest_quality: dict[str, InterestQuality]
    format_ok: dict[str, float]
    timings_seconds: dict[str, float]
    training_seconds_recorded: TrainingSeconds


def validity_rows(table: pd.DataFrame) -> list[RewardValidity]:
    """``reward_validity.validity_table`` as typed rows."""
    return [RewardValidity(
        reward=row["reward"],
        spearman=Estimate.of(row["spearman"], row["spearman low"], row["spearman high"],
                             row["users ranked"]),
        best_of_g_gain=Estimate.of(row["best-of-G gain"], row["gain low"], row["gain high"],
                                   row["n users"]))
        for row in table.to_dict(orient="records")]


def offline_rows(summary: pd.DataFrame, offline: pd.DataFrame) -> dict[str, OfflineRow]:
    """Each policy's metrics with their intervals (``evaluation.summarise`` by method) and
    its seed spread (from ``teacher.tables.offline_table``), keyed by policy."""
    spread = offline.set_index("method")
    rows = {}
    for row in summary.to_dict(orient="records"):
        method = row["method"]
        metrics = {m: Estimate.from_columns(row, m, row["n"]) for m in DEFAULT_METRICS}
        rows[method] = OfflineRow(metrics=MetricEstimates(**metrics),
                                  seeds=spread.loc[method, "seeds"],
                                  recall_at_10_seed_std=spread.loc[method, "R@10 seed std"])
    return keyed(rows)


def ablation_rows(table: pd.DataFrame) -> dict[str, AblationRow]:
    """``teacher.tables.ablation_table`` keyed by run (``all_five``, ``without_cov``)."""
    return keyed({row["method"]: AblationRow(
        recall_at_10=Estimate.from_columns(row, "R@10", row["n"]),
        ndcg_at_10=Estimate.from_columns(row, "N@10", row["n"]))
        for row in table.to_dict(orient="records")})


def paired_rows(table: pd.DataFrame, method_col: str = "method") -> list[Paired]:
    """``evaluation.paired_table`` rows as :class:`Paired` (the method is the candidate)."""
    return [Paired.of({k: v for k, v in row.items() if k != method_col},
                      candidate=row[method_col])
            for row in table.to_dict(orient="records")]


def lift_values(lift: pd.DataFrame) -> MetricValues:
    """``teacher.tables.lift_table``'s relative lifts (rows in ``DEFAULT_METRICS`` order)."""
    return MetricValues(**dict(zip(DEFAULT_METRICS, lift["ours"], strict=True)))


def interest_rows(interest: pd.DataFrame) -> dict[str, InterestQuality]:
    """Mean interest coverage and query precision per policy, keyed by policy."""
    return keyed({method: InterestQuality(**row)
                  for method, row in interest.to_dict(orient="index").items()})


def gate_rows(gate: Mapping[str, object]) -> Sequence[dict]:
    """One row per check, for the notebook's gate table."""
    return [{"check": name, "passes": g.passes} for name, g in gate.items()]
