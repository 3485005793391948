"""What 06 writes: the A/B test's lifts beside the paper's, the A/A false-positive rates,
power, and the simulator's settings."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from newsstudy import paper
from newsstudy.ab.settings import ClickModel, FeedSettings, ReturnModel
from newsstudy.results import Estimate, Record


class TreatmentPolicy(Record):
    """The policy that wrote the treatment arm's lists, and what its lists look like."""

    name: str
    source_notebook: str
    checkpoint: str
    users: int
    format_ok: float
    with_queries: float
    mean_queries: float
    distinct_prompts: int
    generation_seconds_when_run: float | None
    users_per_second_when_run: float | None
    cached: bool


class MetricLift(Record):
    """One metric's treatment-over-control lift (relative), tested two ways: the analytic
    test (``test``: Welch's t or the delta method) and a Poisson bootstrap over users; the
    paper's lift and p-value beside."""

    metric: str
    kind: str
    test: str
    control: float | None
    treatment: float | None
    n_control: int
    n_treatment: int
    lift: Estimate
    p_value: float | None
    se_lift: float | None
    bootstrap: Estimate
    boot_p_value: float | None
    boot_se_lift: float | None
    paper_lift: float
    paper_p_value: float


class AATests(Record):
    """Replicated A/A tests: each metric's false-positive rate at ``alpha``, and the KS
    test of its p-values against the uniform."""

    replicates: int
    alpha: float
    fpr: dict[str, float]
    ks_uniform_p: dict[str, float]


class PowerCheck(Record):
    """Power at one arm size: the analytic value and the share of resampled experiments
    that reject."""

    metric: str
    users_per_arm: int
    observed_lift: float
    analytic_power: float
    subsampled_power: float


class Power(Record):
    """How many users the paper's lifts need, the smallest lift our arms can see, and the
    resampling check."""

    users_per_arm_for_paper_lift: dict[str, float | None]
    mde_at_our_users: dict[str, float | None]
    check: list[PowerCheck]


class RecallPath(Record):
    """Impressions and clicks of one recall path in one arm."""

    arm: str
    path: str
    impressions: int
    clicks: int
    ctr: float | None


class SimulatorSettings(Record):
    """The feed, click and return models the test ran with."""

    feed: FeedSettings
    click: ClickModel
    returns: ReturnModel


class ABResults(Record):
    """``06_ab_simulation.json``."""

    profile: str
    n_users: int
    days: int
    n_control: int
    n_treatment: int
    cold_share: float
    ab_world_hash: str
    policy: TreatmentPolicy
    metrics: dict[str, MetricLift]
    aa: AATests
    power: Power
    recall_paths: list[RecallPath]
    settings: SimulatorSettings
    timings: dict[str, float]


def metric_lifts(compared: Mapping) -> dict[str, MetricLift]:
    """``ab.stats.compare``'s results (metric -> ``LiftResult``), with the paper's lifts."""
    return {name: MetricLift(
        metric=r.metric, kind=r.kind, test=r.test, control=r.control, treatment=r.treatment,
        n_control=r.n_control, n_treatment=r.n_treatment,
        lift=Estimate.of(r.lift, r.ci_low, r.ci_high), p_value=r.p_value, se_lift=r.se_lift,
        bootstrap=Estimate.of(r.lift, r.boot_ci_low, r.boot_ci_high),
        boot_p_value=r.boot_p_value, boot_se_lift=r.boot_se_lift,
        paper_lift=paper.AB_TEST[name]["lift"], paper_p_value=paper.AB_TEST[name]["p_value"])
        for name, r in compared.items()}


def aa_record(aa_table: pd.DataFrame, replicates: int, alpha: float) -> AATests:
    """``ab.stats.false_positive_rate``'s table as a record."""
    by_metric = aa_table.set_index("metric")
    return AATests(replicates=replicates, alpha=alpha, fpr=by_metric["fpr"].to_dict(),
                   ks_uniform_p=by_metric["ks_uniform_p"].to_dict())
