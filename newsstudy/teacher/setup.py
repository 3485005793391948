"""What notebooks 03, 04 and 05 set up before anything trains, in one call.

The world, the reward scorer of the recipe, the serving path and the shared evaluation and
validation users (:mod:`newsstudy.protocol`), with the study's figure style set. One call
replaces the block each of those notebooks used to repeat, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from newsstudy import protocol, rewards, saving
from newsstudy.retrieval import Retriever
from newsstudy.world import data


@dataclass(frozen=True)
class EvaluationSetup:
    """The pieces every policy notebook evaluates with. The reward scorer (about half a
    gigabyte) is built on first use, so a kernel whose workers train first does not hold
    one while they do."""

    world: data.WorldData
    settings: object
    serving: Retriever
    eval_users: list[int]
    val_users: list[int]

    @cached_property
    def scorer(self) -> rewards.RewardScorer:
        """The recipe's reward scorer, built once, on first use."""
        return rewards.RewardScorer.from_settings(self.world, self.settings)


def evaluation_setup(settings) -> EvaluationSetup:
    """Load the profile's world and set up the recipe's scorer (built on first use), serving
    path and user sets.

    ``settings`` is a notebook's parameters (``profile``, ``seed``, ``n_eval_users``,
    ``n_val_users`` and the reward and serving fields of the teacher recipe).
    """
    saving.set_style()
    world = data.load_world(settings.profile)
    return EvaluationSetup(
        world=world, settings=settings, serving=protocol.serving(world, settings),
        eval_users=protocol.eval_users(world, settings.seed, settings.n_eval_users),
        val_users=protocol.val_users(world, settings.seed, settings.n_val_users))
