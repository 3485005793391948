"""The rewards: the paper's five and their weighted sum (:mod:`.scorer`), the
Rubrics-as-Rewards judge behind two of them (:mod:`.judge`), the verifiable retrieval
reward (:mod:`.verifiable`) and the serving path they score against. This file only
hands the scorer's names on."""

from newsstudy.rewards.scorer import (
    REWARD_NAMES,
    RewardScorer,
    RewardWeights,
    alignment,
    diversity,
)

__all__ = ["REWARD_NAMES", "RewardScorer", "RewardWeights", "alignment", "diversity"]
