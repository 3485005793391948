"""The shared evaluation protocol of notebooks 03, 04 and 05: one serving path, one user set.

Every policy of the study is evaluated the same way, so a number about the same checkpoint
is the same number wherever it appears:

- :func:`serving` is the recipe's serving path (embedder, index, ``k_per_query``);
- :func:`eval_users` are the first ``n_eval_users`` test users of one seeded permutation
  (the recipe's ``n_eval_users``); a smaller study (best-of-N) takes a prefix of them;
- :func:`val_users` are validation users drawn after them from the same generator, the
  users on which checks and choices are made.
"""

from __future__ import annotations

import numpy as np


def serving(world, settings):
    """The recipe's serving retriever (``serving_embedder``, ``index_kind``, ``k_per_query``)."""
    from newsstudy.evaluation import serving_retriever

    return serving_retriever(world, settings.serving_embedder, settings.index_kind,
                             settings.k_per_query)


def _draws(world, seed: int):
    rng = np.random.default_rng(seed)
    test = rng.permutation(world.split_users("test"))
    val = rng.permutation(world.split_users("val"))
    return test, val


def eval_users(world, seed: int, n: int) -> list[int]:
    """The first ``n`` test users of the seeded permutation (the study's evaluation users)."""
    return [int(u) for u in _draws(world, seed)[0][:n]]


def val_users(world, seed: int, n: int) -> list[int]:
    """The first ``n`` validation users of the permutation drawn after the test users'."""
    return [int(u) for u in _draws(world, seed)[1][:n]]
