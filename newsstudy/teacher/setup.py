"""What notebooks 03, 04 and 05 set up before anything trains, in one call.

The world, the reward scorer of the recipe, the serving path and the shared evaluation and
validation users (:mod:`newsstudy.protocol`), with the study's figure style set. One call
replaces the block each of those notebooks used to repeat, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsstudy import protocol, rewards, saving
from newsstudy.retrieval import Retriever
from newsstudy.world import data


@dataclass(frozen=True)
class EvaluationSetup:
    """The pieces every policy notebook evaluates with."""

    world: data.WorldData
    scorer: rewards.RewardScorer
    serving: Retriever
    eval_users: list[int]
    val_users: list[int]


def evaluation_setup(settings) -> EvaluationSetup:
    """Load the profile's world and build the recipe's scorer, serving path and user sets.

    ``settings`` is a notebook's parameters (``profile``, ``seed``, ``n_eval_users``,
    ``n_val_users`` and the reward and serving fields of the teacher recipe).
    """
    saving.set_style()
    world = data.load_world(settings.profile)
    scorer = rewards.RewardScorer.from_settings(world, settings)
    return EvaluationSetup(
        world=world, scorer=scorer, serving=protocol.serving(world, settings),
        eval_users=protocol.eval_users(world, settings.seed, settings.n_eval_users),
        val_users=protocol.val_users(world, settings.seed, settings.n_val_users))
