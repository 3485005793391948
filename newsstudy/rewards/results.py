"""What 02 writes: each strategy's rewards and recall, the serving path, the reward gates."""

from __future__ import annotations

from pydantic import Field

from newsstudy.gates import DegenerateGate, OrderGate
from newsstudy.results import PairedGate, Record


class StrategyScores(Record):
    """A reference strategy's mean rewards and retrieval on the test users."""

    align: float
    cov: float
    div: float
    spec: float
    struct: float
    total: float
    recall_at_10: float = Field(alias="recall@10")
    ndcg_at_10: float = Field(alias="ndcg@10")


class ServingPath(Record):
    """How lists are served (fusion of per-query rankings, results per query), as chosen
    on validation users, and whether the profile's parameters say the same."""

    fusion: str
    k_per_query: int
    query_words: int | None


class ServingPathChoice(Record):
    """The serving path chosen on ``n_val_users`` validation users."""

    chosen: ServingPath
    params_agree: bool
    n_val_users: int


class RewardGates(Record):
    """The world gate (inference pays) and the reward's gates."""

    inference_pays: PairedGate
    degenerate_below_copy: DegenerateGate
    reward_order: OrderGate


class RewardsResults(Record):
    """``02_rewards.json``."""

    profile: str
    n_users: int
    reward_embedder: str
    serving_embedder: str
    strategies: dict[str, StrategyScores]
    correlation_total_recall10_pooled: float
    correlation_total_recall10_within_user: float
    rewards_in_unit_interval: bool
    serving_path: ServingPathChoice
    gates: RewardGates
    timings_seconds: dict[str, float] = Field(default_factory=dict)
