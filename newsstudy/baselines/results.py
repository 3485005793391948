"""What 03b writes: each baseline's offline metrics, warm and cold users, the ceiling gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from newsstudy.results import Estimate, PairedGate, Record


class SeededEstimate(Estimate):
    """A mean over users (seeds averaged per user) with its interval, the spread of the
    per-seed means, and the paper's value where it has one."""

    seed_std: float | None
    n_seeds: int
    paper: float | None


class BaselineMetrics(Record):
    """A baseline's offline metrics."""

    recall_at_5: SeededEstimate = Field(alias="recall@5")
    recall_at_10: SeededEstimate = Field(alias="recall@10")
    ndcg_at_5: SeededEstimate = Field(alias="ndcg@5")
    ndcg_at_10: SeededEstimate = Field(alias="ndcg@10")
    mrr: SeededEstimate


class GroupScores(Record):
    """Mean Recall@10 and NDCG@10 over one group of users."""

    recall_at_10: float = Field(alias="recall@10")
    ndcg_at_10: float = Field(alias="ndcg@10")


class WarmCold(Record):
    """A method's scores on warm and on cold test users."""

    warm: GroupScores
    cold: GroupScores


class BaselineGates(Record):
    """The ceiling gate (oracle against the best trained baseline) and the oracle against
    the content baseline."""

    ceiling_clears_baselines: PairedGate
    oracle_vs_content: PairedGate


class BaselinesResults(Record):
    """``03b_baselines.json``."""

    profile: str
    n_seeds: int
    n_test_users: int
    n_test_articles: int
    text_embedder: str
    methods: dict[str, BaselineMetrics]
    warm_cold: dict[str, WarmCold]
    best_by_recall10: str
    seconds: dict[str, float]
    per_user_csv: str
    gates: BaselineGates


def method_metrics(summary: pd.DataFrame) -> dict[str, BaselineMetrics]:
    """``baselines.tables.summarise``'s long table as typed metrics per method."""
    out: dict[str, dict] = {}
    for r in summary.itertuples():
        out.setdefault(r.method, {})[r.metric] = SeededEstimate(
            **Estimate.of(r.mean, r.ci_low, r.ci_high).model_dump(), seed_std=r.seed_std,
            n_seeds=r.n_seeds, paper=None if np.isnan(r.paper) else r.paper)
    return {method: BaselineMetrics(**metrics) for method, metrics in out.items()}


def warm_cold(per_user: pd.DataFrame) -> dict[str, WarmCold]:
    """Each method's mean Recall@10 and NDCG@10 on warm and on cold users (seeds pooled)."""
    out: dict[str, dict] = {}
    for (method, cold), group in per_user.groupby(["method", "is_cold"]):
        out.setdefault(method, {})["cold" if cold else "warm"] = {
            m: float(group[m].mean()) for m in ("recall@10", "ndcg@10")}
    return {method: WarmCold(**groups) for method, groups in out.items()}
