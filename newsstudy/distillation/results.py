"""What 05 writes: every student against the teacher, the gap each method closes, the
reverse-KL runs, and serving speed."""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from newsstudy.results import Estimate, PairedGate, Record, keyed


class RatioGate(Record):
    """The teacher has at least 30x the student's parameters."""

    passes: bool
    ratio: float


class DistillationGates(Record):
    """05's checks: the pair is far enough apart, and there is a gap to close."""

    student_30x_smaller: RatioGate
    teacher_beats_no_distillation: PairedGate


class MethodRow(Record):
    """A student (or the teacher) on the test users, seeds pooled, beside the paper."""

    recall_at_10: Estimate
    ndcg_at_10: Estimate
    recall_at_10_paper: float | None
    ndcg_at_10_paper: float | None
    gap_closed: float | None
    gap_closed_paper: float | None
    reverse_kl_to_teacher: float | None
    recall_at_10_seed_std: float | None


class GapShare(Record):
    """A method's Recall@10 gain over the student trained without the teacher, its
    difference from the teacher, and the share of the teacher's gap it closes (each paired
    over users, with its interval)."""

    gain_over_none: Estimate
    vs_teacher: Estimate
    teacher_gap: float | None
    share_of_gap_closed: Estimate


class KLRun(Record):
    """One trained student: its final reverse KL to the teacher and well-formed share."""

    method: str
    seed: int
    reverse_kl: float | None = Field(alias="reverse KL")
    well_formed: float | None = Field(alias="well-formed")


class ServingSpeed(Record):
    """Batched generation of one model on the serving prompts."""

    users: int
    batch_size: int
    seconds: float
    users_per_second: float
    tokens_per_second: float
    mean_new_tokens: float
    p50_latency_s: float
    p95_latency_s: float
    forward_share: float | None = None
    repeats: int | None = None
    users_per_second_runs: list[float] | None = None


class Serving(Record):
    """Teacher and student served the same way on the same hardware (each its median of
    ``repeats`` turns), and the student-over-teacher speed-up of each turn."""

    teacher: ServingSpeed
    student: ServingSpeed
    speedups: list[float] | None = None


class Params(Record):
    """Parameter counts of the pair."""

    teacher: int
    student: int


class DistillationResults(Record):
    """``05_distillation.json``."""

    profile: str
    teacher_model: str
    teacher_checkpoint: str
    student_model: str
    student_train_users: int
    same_training_users: bool
    params: Params
    gates: DistillationGates
    seeds: list[int]
    n_eval_users: int
    distillation: dict[str, MethodRow]
    gap_share: dict[str, GapShare]
    runs: list[KLRun]
    serving: Serving
    serving_batch_size: int
    serving_threads: int
    speedup: float
    timings_seconds: dict[str, float]


def method_rows(table: pd.DataFrame) -> dict[str, MethodRow]:
    """``distillation.tables.distillation_table`` (with its seed spread) keyed by method
    (``on_policy``, ``on_policy_grpo``, ``teacher``...)."""
    return keyed({row["method"]: MethodRow(
        recall_at_10=Estimate.from_columns(row, "R@10", row["n"]),
        ndcg_at_10=Estimate.from_columns(row, "N@10", row["n"]),
        recall_at_10_paper=row["R@10 paper"], ndcg_at_10_paper=row["N@10 paper"],
        gap_closed=row["gap closed"], gap_closed_paper=row["gap closed paper"],
        reverse_kl_to_teacher=row["reverse KL to teacher"],
        recall_at_10_seed_std=row["R@10 seed std"])
        for row in table.to_dict(orient="records")})


def gap_rows(shares: pd.DataFrame) -> dict[str, GapShare]:
    """``distillation.tables.gap_share_table`` keyed by method."""
    return keyed({row["method"]: GapShare(
        gain_over_none=Estimate.of(row["gain over none"], row["gain low"], row["gain high"],
                                   row["n"]),
        vs_teacher=Estimate.of(row["vs teacher"], row["vs teacher low"],
                               row["vs teacher high"], row["n"]),
        teacher_gap=row["teacher gap"],
        share_of_gap_closed=Estimate.of(row["share of gap closed"], row["share low"],
                                        row["share high"], row["n"]))
        for row in shares.to_dict(orient="records")})
