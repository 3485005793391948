"""The learned best-of-N verifier: features from what is visible at serving time, never
raising on model output; a model that learns a within-user order where one exists; and
its checks and best-of-N pick read on users it did not see."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from newsstudy import scaling as bon
from newsstudy.scaling import verifier

PROMPT = """<bos>interests:
<s1> interest: scotland independence
<s2> interest: dutch polls
signals:
<s3> search: snp
<s4> news 2x: Berlin fears new arms race
<s5> browse: Brexit | Forum
write news search queries:
"""


class Lookup:
    """A stand-in retriever: each query's vector is a hash of its words; the index holds
    four articles."""

    k_per_query = 2

    def embed_queries(self, queries):
        out = np.zeros((len(queries), 8), np.float32)
        for row, query in enumerate(queries):
            for word in query.split():
                out[row, hash(word) % 8] += 1.0
        return out

    def search_queries(self, queries):
        vectors = self.embed_queries(queries)
        scores = np.sort(vectors, axis=1)[:, ::-1][:, :2]
        ids = np.argsort(-vectors, axis=1)[:, :2] % 4
        return scores, ids


def test_prompt_lines_split_interest_candidates_from_signals():
    interests, signals = verifier.prompt_lines(PROMPT)
    assert interests == ["scotland independence", "dutch polls"]
    assert signals == ["snp", "berlin fears new arms race", "brexit | forum"]


@pytest.mark.parametrize("completion", ["", None, 42, "<queries></queries>", "x" * 5000,
                                        "<queries>a | | b</queries>", "\x00\ud800"])
def test_features_never_raise_and_a_list_without_queries_is_all_zeros(completion):
    frame = verifier.list_features([PROMPT], [completion], Lookup())
    assert list(frame.columns) == list(verifier.FEATURES) and len(frame) == 1
    assert np.isfinite(frame.to_numpy(dtype=float)).all()


def test_features_count_what_a_list_copies():
    text = "<queries>scotland independence | snp | tennis final</queries>"
    row = verifier.list_features([PROMPT], [text], Lookup()).iloc[0]
    assert row["n_queries"] == 3
    assert row["share_interest"] == pytest.approx(1 / 3)
    assert row["interest_rank"] == pytest.approx(1 / 2)  # rank 1 of 2 candidates
    assert row["share_recent"] == pytest.approx(1 / 3)
    assert row["share_verbatim"] == pytest.approx(2 / 3)
    assert row["words_per_query"] == pytest.approx(5 / 3)


def synthetic(n_users: int, seed: int) -> pd.DataFrame:
    """Lists whose recall rises with ``share_interest`` within each user, plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        base = rng.uniform(0, 0.3)
        for sample in range(8):
            features = dict.fromkeys(verifier.FEATURES, 0.0) | {
                name: rng.normal() for name in verifier.FEATURES}
            features["share_interest"] = rng.uniform()
            recall = base + 0.2 * features["share_interest"] + rng.normal(0, 0.03)
            rows.append({"user": user, "sample": sample, **features, "recall@10": recall})
    return pd.DataFrame(rows)


def test_the_verifier_learns_a_within_user_order_and_its_checks_see_it():
    fitted = verifier.fit_verifier(synthetic(200, 0), seed=0)
    assert (fitted.n_users, fitted.n_lists) == (200, 1600)
    held_out = synthetic(80, 1)
    held_out["verifier"] = fitted.score(held_out)
    check = verifier.validity(held_out)
    assert check["spearman_low"] > 0.3 and check["gain_low"] > 0 and check["passes"]
    # its pick, as best-of-N reads it, beats the random pick on the same users
    picked = bon.best_of_n(held_out, [4], "verifier", ["recall@10"], n_draws=8, seed=0)
    gains = bon.pick_gains(picked, bon.random_pick(held_out, ["recall@10"]))
    assert gains["low"].iloc[0] > 0


def test_a_verifier_that_learned_nothing_fails_its_check():
    frame = synthetic(200, 2)
    frame["recall@10"] = np.random.default_rng(3).uniform(size=len(frame))  # no signal
    fitted = verifier.fit_verifier(frame, seed=0)
    held_out = synthetic(80, 4)
    held_out["recall@10"] = np.random.default_rng(5).uniform(size=len(held_out))
    held_out["verifier"] = fitted.score(held_out)
    assert not verifier.validity(held_out)["passes"]
