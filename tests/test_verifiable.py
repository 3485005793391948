"""The verifiable retrieval reward and the interest candidates the prompt offers.

The reward reads training users' own history only (a time split inside the history
window), never a validation or test user nor the test window; it never raises on any
string. The candidates read cleaned signals and the corpus, never latent labels.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsstudy.metrics import ndcg_at_k
from newsstudy.output_format import parse_completion, render_completion
from newsstudy.policy import interests, prompts
from newsstudy.rewards import verifiable
from newsstudy.world import strategies


@pytest.fixture(scope="module")
def world(smoke_world):
    return smoke_world


class Untouchable:
    """A frame that must not be read: any attribute access fails the test."""

    def __init__(self, name: str):
        self.name = name

    def __getattr__(self, attribute):
        raise AssertionError(f"{self.name} was read ({attribute})")

    def __getitem__(self, key):
        raise AssertionError(f"{self.name} was read ([{key!r}])")

    def __len__(self):
        raise AssertionError(f"{self.name} was read (len)")


def blind(world):
    """The world with its test window and latent frames made unreadable."""
    return dataclasses.replace(world, test_clicks=Untouchable("test_clicks"),
                               interests=Untouchable("interests"),
                               event_labels=Untouchable("event_labels"))


@pytest.fixture(scope="module")
def train_users(world):
    return [int(u) for u in world.split_users("train")]


def test_targets_are_training_users_later_clicks_on_fresh_articles(world, train_users):
    cut, end = verifiable.target_window(world, 7)
    assert (cut, end) == (world.history_days - 7, world.history_days)
    targets = verifiable.training_targets(blind(world), train_users, 7)  # reads no test window
    assert targets and set(targets) <= set(train_users)
    events = world.clean_events()
    published = world.articles.set_index("article_id")["day"]
    for user, articles in list(targets.items())[:40]:
        mine = events[(events["user_id"] == user) & (events["domain"] == "news")]
        clicked = set(mine.loc[mine["day"].between(cut, end - 1), "article_id"])
        assert articles <= clicked
        assert all(cut <= published[a] < end for a in articles)


def test_validation_and_test_users_are_refused(world, train_users):
    for split in ("val", "test"):
        other = int(world.split_users(split)[0])
        with pytest.raises(ValueError, match="training users only"):
            verifiable.training_targets(world, [train_users[0], other], 7)
    with pytest.raises(ValueError, match="target_days"):
        verifiable.target_window(world, world.history_days)


@pytest.fixture(scope="module")
def reward(world, train_users):
    from newsstudy import params

    settings = params.load_recipe("smoke")
    return verifiable.RetrievalReward.from_settings(blind(world), settings, train_users)


def test_reward_ranks_the_whole_window_and_grades_ndcg(world, reward):
    """The ranking is the serving path's fused top (each query's k nearest, fused), then
    the rest of the window by nearest query, rebuilt here with numpy; the retrieval term
    is its NDCG."""
    from newsstudy.fusion import FUSION

    user = next(u for u in reward.users if 2 <= len(reward.targets[u]) <= 4)
    titles = world.articles.set_index("article_id")["title"].str.replace("|", " ")
    targets = sorted(reward.targets[user])
    good = render_completion([titles[a] for a in targets] + ["news"] * (len(targets) < 3))
    window = reward.retriever.index.article_ids.tolist()
    others = [a for a in window if a not in targets][:3]
    bad = render_completion([titles[a] for a in others])
    rows = world.articles.set_index("article_id").index.get_indexer(
        reward.retriever.index.article_ids)
    vectors = np.asarray(world.article_vectors(reward.retriever.embedder.name))[rows]
    for completion in (good, bad):
        queries = list(parse_completion(completion).queries)
        similarity = reward.retriever.embed_queries(queries) @ vectors.T
        order = np.argsort(-similarity, axis=1, kind="stable")
        ids = reward.retriever.index.article_ids[order]
        served = FUSION[reward.fusion]([row[: reward.retriever.k_per_query].tolist()
                                        for row in ids], k=100)
        best = pd.Series(similarity.max(axis=0), index=reward.retriever.index.article_ids)
        rest = best.drop(served).sort_values(ascending=False, kind="stable").index.tolist()
        assert reward.rankings([completion])[0] == [*served, *rest]
    frame = reward.score([user, user], [good, bad])
    ranking = reward.rankings([good])[0]
    assert len(ranking) == len(window)  # every article of the window ranked
    assert frame["retrieval"].iloc[0] == pytest.approx(ndcg_at_k(ranking, reward.targets[user],
                                                                 reward.depth))
    # one query, a target's title: it finds its article first (one list: no fusion)
    alone = f"<think>x</think><queries>{titles[targets[0]]}</queries>"
    assert reward.rankings([alone])[0][0] == targets[0]
    assert frame["struct"][0] == 1.0 and reward.score([user], [alone])["struct"][0] == 0.0
    assert np.allclose(frame["total"], frame["retrieval"] + reward.weights.struct * frame["struct"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=50), st.none(), st.integers()))
def test_reward_never_raises_and_stays_in_range(reward, text):
    frame = reward.score([reward.users[0], -1], [text, text])  # -1: a user with no target
    assert frame["retrieval"].between(0, 1).all() and frame["struct"].isin([0.0, 1.0]).all()
    assert frame["retrieval"].iloc[1] == 0.0


def test_grpo_prompts_come_from_the_days_before_the_window(world):
    """The verifiable teacher's prompts show only signals from before the cut."""
    from newsstudy import params, teacher

    settings = params.load_params("03_grpo", "smoke")
    pipe = teacher.PolicyPipeline(world, settings, None)
    scorer = pipe.verifiable_reward()
    cut, _ = verifiable.target_window(world, settings.target_days)
    user_prompts = pipe.grpo_prompts("verifiable", scorer)
    assert set(user_prompts) == set(scorer.users) <= set(int(u) for u in pipe.train_users())
    from newsstudy.output_format import normalize_query

    def key(text: str) -> str:
        return " ".join(normalize_query(text.replace("|", " "), None).split()[:12]).casefold()

    events = world.clean_events()
    late_shown = 0
    for user, text in user_prompts.items():
        mine = events[events["user_id"] == user]
        early = {key(t) for t in mine.loc[mine["day"] < cut, "text"]}
        late = {key(t) for t in mine.loc[mine["day"] >= cut, "text"]} - early
        lines = {key(line) for line in prompts.pointed_lines(text).values()}
        late_shown += len(lines & late)
    assert late_shown == 0  # no signal line comes from the target window


# ------------------------------------------------------------------------- candidates

def test_candidates_are_infer_with_more_slots_and_read_no_latent_frame(world):
    users = [int(u) for u in world.split_users("val")[:25]]
    offered = interests.interest_candidates(blind(world), users, 8)
    ctx = interests.candidate_context(world, 8)
    for user in users:
        assert len(offered[user]) <= 8
        assert offered[user] == list(parse_completion(strategies.infer(ctx, user)).queries)
    assert interests.interest_candidates(world, users, 0) == {u: [] for u in users}
    assert sum(map(len, offered.values())) > 4 * len(users)


def test_prompt_offers_candidates_before_the_signals(world):
    users = [int(u) for u in world.split_users("val")[:10]]
    with_candidates = prompts.build_prompts(world, users, 16, 4000, candidates=4)
    plain = prompts.build_prompts(world, users, 16, 4000)
    offered = interests.interest_candidates(world, users, 4)
    for user in users:
        text = with_candidates[user]
        k = prompts.offered_candidates(text)
        assert k == len(offered[user]) and prompts.offered_candidates(plain[user]) == 0
        lines = prompts.pointed_lines(text)
        assert [lines[i] for i in range(1, k + 1)] == offered[user]
        assert text.index("interests:") < text.index("signals:")
        # the signal lines are the plain prompt's, numbered after the candidates
        plain_lines = prompts.pointed_lines(plain[user])
        assert [lines[k + i] for i in range(1, len(plain_lines) + 1)] == \
            [plain_lines[i] for i in range(1, len(plain_lines) + 1)]
        assert prompts.expand_pointers("<think>x</think><queries><s1> | <s2></queries>",
                                       text).count(offered[user][0]) == 1


def test_demonstrations_mix_candidates_and_signals_without_preference(world):
    users = [int(u) for u in world.split_users("train")[:120]]
    user_prompts = prompts.build_prompts(world, users, 16, 4000, candidates=8)
    ctx = prompts.surface_context(world, n_queries=5)
    offered = {u: prompts.offered_candidates(p) for u, p in user_prompts.items()}
    demos = prompts.surface_demonstrations(ctx, users, 16, per_user=4, offered=offered)
    counts = []
    for user in users:
        k = offered[user]
        first = [int(n) for n in re.findall(r"<s(\d+)>", demos[user][0])]
        assert first == list(range(k + 1, k + 1 + len(first)))  # copy: the recent signals
        for demo in demos[user][1:]:
            numbers = [int(n) for n in re.findall(r"<s(\d+)>", demo)]
            candidates = [n for n in numbers if n <= k]
            counts.append(len(candidates))
            assert candidates == sorted(set(candidates)) and len(numbers) == len(set(numbers))
            assert parse_completion(prompts.expand_pointers(demo, user_prompts[user])).format_ok
    counts = np.bincount(counts, minlength=6)
    assert (counts[:6] > 0).all()  # every number of candidates from 0 to 5 is drawn
    # which candidates: no rank preferred (the first and the last of 8 drawn alike)
    drawn = pd.Series([int(n) for u in users if offered[u] == 8 for d in demos[u][1:]
                       for n in re.findall(r"<s(\d+)>", d) if int(n) <= 8])
    assert abs((drawn == 1).mean() - (drawn == 8).mean()) < 0.06
