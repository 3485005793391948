"""The shared evaluation protocol: one user set, prefixes of it, validation apart."""

import numpy as np
import pandas as pd

from newsstudy import protocol


class FakeWorld:
    def __init__(self):
        self.split = {"test": np.arange(100, 200), "val": np.arange(300, 350)}

    def split_users(self, name):
        return self.split[name]


def test_eval_users_are_prefixes_of_one_permutation_and_match_notebook_03():
    world = FakeWorld()
    full = protocol.eval_users(world, 7, 80)
    assert protocol.eval_users(world, 7, 20) == full[:20]
    rng = np.random.default_rng(7)  # what 03 drew before the protocol existed
    assert full == [int(u) for u in rng.permutation(world.split["test"])[:80]]
    assert protocol.val_users(world, 7, 10) == [int(u) for u in rng.permutation(world.split["val"])[:10]]


def test_validation_and_test_users_do_not_overlap():
    world = FakeWorld()
    assert not set(protocol.eval_users(world, 0, 100)) & set(protocol.val_users(world, 0, 50))
    assert len(set(protocol.eval_users(world, 0, 100))) == 100
    assert isinstance(pd.Series(protocol.eval_users(world, 0, 5)).iloc[0], (int, np.integer))
