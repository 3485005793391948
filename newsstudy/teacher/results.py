"""What 03 writes: the teacher's instrument checks, its offline table, the reward
ablation, and what each check was computed from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from pydantic import Field

from newsstudy.gates import EntropyGate, FormatGate, ImitationGate, ShareGate
from newsstudy.metrics import DEFAULT_METRICS
from newsstudy.results import (
    Estimate,
    MetricEstimates,
    MetricValues,
    Paired,
    PairedGate,
    Record,
    finite,
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
    """The teachers' instrument checks: imitation on validation users, the format of the
    lists served to the test users, the entropy of each GRPO run; each reward's validity
    and each teacher's improvement of its own reward on validation users (``reward_validity``
    and ``grpo_improves`` for the paper's five, ``verifiable_*`` for the verifiable one);
    and whether the teacher that feeds 04-06 beats prompt-only and closes half the gap to
    ``infer`` in validation Recall@10."""

    imitation: ImitationGate
    format: FormatGate
    entropy: EntropyGate
    reward_validity: PairedGate
    grpo_improves: PairedGate
    verifiable_validity: PairedGate
    verifiable_improves: PairedGate
    beats_prompt_only: PairedGate
    half_gap: ShareGate


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
    """One reward on the policy's own samples: within-user Spearman with R@10, the R@10
    gain of its best-of-G pick over a random pick (paired over users), and the share of
    users whose G lists all tie on it."""

    reward: str
    spearman: Estimate
    best_of_g_gain: Estimate
    tied_groups: float | None


class RunRow(Record):
    """One GRPO run: its reward, entropy and largest per-step KL at the start and end."""

    run: str
    steps: int
    reward_first: float | None
    reward_last: float | None
    entropy_first: float | None
    entropy_last: float | None
    max_kl: float | None  # None: a run without a KL term logs none


class GapRow(Record):
    """One teacher on validation users: its R@10 gain over prompt-only and the share of
    the prompt-only-to-infer gap it closes."""

    gain: Paired
    infer_minus_prompt_only: Paired
    share_of_gap: Estimate


class CompositionRow(Record):
    """What one policy's validation lists are made of (shares of their queries)."""

    policy: str
    candidate: float | None
    signal: float | None
    own_words: float | None
    mixed: float | None
    candidates_per_list: float | None
    holds_the_first_candidate: float | None
    users: int


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
    """How many latent interests a policy's lists cover, how precise its queries are, and
    how many queries they spend per interest they reach."""

    interest_coverage: float | None
    query_precision: float | None
    queries_per_interest: float | None = None


class TrainingSeconds(Record):
    """Training time recorded in the checkpoints (when they were trained)."""

    sft: float | None
    grpo_per_seed: list[float | None]
    verifiable_per_seed: list[float | None] = Field(default_factory=list)


class TeacherResults(Record):
    """``03_grpo.json``."""

    profile: str
    model: str
    parameters: int | None  # None: a model whose size the study does not know
    lora_rank: int
    seeds: list[int]
    feeds_04_06: str  # the reward of the teacher that 04-06 build on
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
    runs: list[RunRow]
    gap_closed: dict[str, GapRow]
    composition: list[CompositionRow]
    weights: dict[str, float]
    offline: dict[str, OfflineRow]
    rl_minus_prompt_only: Paired
    verifiable_minus_prompt_only: Paired
    paper_share_of_verifiable_gain: Estimate
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
                                   row["n users"]),
        tied_groups=finite(row.get("tied groups")))
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
    return keyed({method: InterestQuality(**{k: finite(v) for k, v in row.items()})
                  for method, row in interest.to_dict(orient="index").items()})


def gate_rows(gate: Mapping[str, object]) -> Sequence[dict]:
    """One row per check, for the notebook's gate table."""
    return [{"check": name, "passes": g.passes} for name, g in gate.items()]


def run_rows(table: pd.DataFrame) -> list[RunRow]:
    """``teacher.tables.run_table`` as typed rows."""
    return [RunRow(run=row["run"], steps=row["steps"], reward_first=finite(row["reward first"]),
                   reward_last=finite(row["reward last"]),
                   entropy_first=finite(row["entropy first"]),
                   entropy_last=finite(row["entropy last"]), max_kl=finite(row["max KL"]))
            for row in table.to_dict(orient="records")]


def gap_rows(closed: Mapping[str, object], names: Mapping[str, str]) -> dict[str, GapRow]:
    """Each teacher's :class:`newsstudy.teacher.comparison.GapClosed`, keyed by its name."""
    return keyed({names[reward]: GapRow(
        gain=Paired.of(gap.teacher_minus_prompt_only, candidate=names[reward],
                       reference="prompt-only", metric="recall@10"),
        infer_minus_prompt_only=Paired.of(gap.infer_minus_prompt_only, candidate="infer",
                                          reference="prompt-only", metric="recall@10"),
        share_of_gap=Estimate.of(gap.share, gap.share_low, gap.share_high, gap.n))
        for reward, gap in closed.items()})


def composition_rows(table: pd.DataFrame) -> list[CompositionRow]:
    """``teacher.composition.composition_table`` as typed rows."""
    return [CompositionRow(policy=row["policy"], candidate=finite(row["candidate"]),
                           signal=finite(row["signal"]), own_words=finite(row["own words"]),
                           mixed=finite(row["mixed"]),
                           candidates_per_list=finite(row["candidates per list"]),
                           holds_the_first_candidate=finite(row["holds the first candidate"]),
                           users=row["users"])
            for row in table.to_dict(orient="records")]


def build(P, parameters, seeds, eval_users, val_users, decoding, gate, decoding_table, sizes,
          curve, demo_recall, validity, improvement, closed, made_of, per_user, offline,
          compared, ablation, paired_ablation, outputs, run_table, timings, sft_checkpoint,
          teachers) -> TeacherResults:
    """``03_grpo.json`` from what notebook 03 computed (its cells name each piece)."""
    import dataclasses

    from newsstudy import evaluation, teacher
    from newsstudy.teacher import imitation
    from newsstudy.teacher.tables import TEACHER_NAMES

    paper, verifiable = TEACHER_NAMES["paper"], TEACHER_NAMES["verifiable"]
    captured = compared.captured
    return TeacherResults(
        profile=P.profile, model=P.model, parameters=parameters, lora_rank=P.lora_rank,
        seeds=seeds, feeds_04_06=P.teacher_reward, n_eval_users=len(eval_users),
        n_val_users=len(val_users), decoding=decoding.as_dict(), gates=gate,
        instrument_ok=all(g.passes for g in gate.values()),
        decoding_table=decoding_table.to_dict(orient="records"),
        imitation_by_size=sizes.to_dict(orient="records"),
        imitation_curve=curve.to_dict(orient="records"),
        demonstrations_recall_at_10=demo_recall.mean(),
        reward_validity=validity_rows(validity),
        grpo_improvement=keyed({k: Paired.of(v) for k, v in improvement.items()}),
        runs=run_rows(run_table), gap_closed=gap_rows(closed, TEACHER_NAMES),
        composition=composition_rows(made_of),
        weights=dataclasses.asdict(teacher.RewardWeights.from_settings(P)),
        offline=offline_rows(evaluation.summarise(per_user), offline),
        rl_minus_prompt_only=Paired.of(compared.paired[paper], candidate=paper,
                                       reference="prompt-only", metric="recall@10"),
        verifiable_minus_prompt_only=Paired.of(compared.paired[verifiable],
                                               candidate=verifiable,
                                               reference="prompt-only", metric="recall@10"),
        paper_share_of_verifiable_gain=Estimate.of(captured["share"], captured["low"],
                                                   captured["high"], captured["n"]),
        lift_rl_over_prompt_only=lift_values(compared.lift),
        ablation=ablation_rows(ablation),
        ablation_paired=paired_rows(paired_ablation) if paired_ablation is not None else [],
        interest_quality=interest_rows(compared.interest),
        format_ok=keyed({m: imitation.well_formed(o) for m, o in outputs.items()}),
        timings_seconds=timings,
        training_seconds_recorded={
            "sft": teacher.training_seconds(sft_checkpoint),
            "grpo_per_seed": [teacher.training_seconds(c) for c in teachers["paper"].values()],
            "verifiable_per_seed": [teacher.training_seconds(c)
                                    for c in teachers["verifiable"].values()]})
