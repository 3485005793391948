"""Rewards: ranges, hand-checked values, and never raising on any string a model can emit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsstudy import rewards
from newsstudy.index import NewsIndex
from newsstudy.output_format import render_completion
from newsstudy.retrieval import Retriever
from newsstudy.rewards import judge


class HashEmbedder:
    """A deterministic toy embedder: bag of hashed words, unit rows."""

    name = "toy"
    dim = 32

    def encode(self, texts, show_progress=False):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in str(text).lower().split():
                out[row, hash(word) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


@pytest.fixture(scope="module")
def scorer() -> rewards.RewardScorer:
    embedder = HashEmbedder()
    rng = np.random.default_rng(0)
    words = [f"w{a}{b}" for a in "abcdefghij" for b in "klmnop"]
    texts = [" ".join(rng.choice(words, 6)) for _ in range(200)]
    vectors = embedder.encode(texts)
    index = NewsIndex(np.arange(200), vectors)
    retriever = Retriever(index, embedder, k_per_query=10)
    rubric = judge.RubricJudge.fit(vectors, texts, embedder, n_clusters=6, seed=0)
    signals = [" ".join(rng.choice(words[:10], 3)) for _ in range(30)]
    rubric.infer_interests(np.zeros(30, dtype=int), embedder.encode(signals), signals)
    scorer = rewards.RewardScorer(retriever, rubric)
    scorer.corpus_texts, scorer.signals = texts, signals  # for the hand checks below
    return scorer


def test_diversity_by_hand():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert rewards.diversity(np.stack([a, b])) == pytest.approx(1.0)
    assert rewards.diversity(np.stack([a, a])) == pytest.approx(0.0)
    c = np.array([np.sqrt(0.5), np.sqrt(0.5)])
    # pairs: (a,b)=1, (a,c)=1-0.7071, (b,c)=1-0.7071
    assert rewards.diversity(np.stack([a, b, c])) == pytest.approx((1 + 2 * (1 - np.sqrt(0.5))) / 3)
    assert rewards.diversity(np.stack([a])) == 0.0


def test_alignment_by_hand():
    scores = np.array([[0.5, 0.3], [1.2, -0.4]])
    ids = np.array([[1, 2], [3, -1]])
    # query 1: (0.5+0.3)/2 = 0.4 ; query 2: (1.0 + 0)/2 = 0.5 (clipped, missing hit 0)
    assert rewards.alignment(scores, ids) == pytest.approx(0.45)
    assert rewards.alignment(np.zeros((0, 10)), np.zeros((0, 10), int)) == 0.0


def test_specificity_rubric_by_hand(scorer):
    """A query whose words an article holds together is coherent and passes the length
    and content-word checks; a bag of words no article holds together passes nothing."""
    rubric = scorer.judge
    article = scorer.corpus_texts[0].split()
    together = " ".join(article[:3])
    docs = [set(text.split()) for text in scorer.corpus_texts]
    signal_words = {w for signal in scorer.signals for w in signal.split()}  # may be boilerplate
    frequent = [w for w in sorted(set().union(*docs) - signal_words)
                if sum(w in d for d in docs) >= 3]
    bag = next(" ".join(triple) for triple in itertools.combinations(frequent, 3)
               if not any(len(doc & set(triple)) >= 2 for doc in docs))  # no article holds two
    queries = ["latest news", together, bag]
    checks = rubric.specificity_checks(queries, HashEmbedder().encode(queries))
    columns = list(judge.SPEC_WEIGHTS)
    assert not checks[0, columns.index("not_generic")]  # generic
    assert checks[1, columns.index("coherent")] and checks[1, columns.index("sane_length")]
    assert checks[1, columns.index("content_words")]
    assert not checks[2].any()  # incoherent: fails every criterion


def test_coverage_rewards_lists_on_the_users_interests(scorer):
    mine = scorer.judge.interests(0)
    assert len(mine.clusters) >= 1
    assert mine.shares.sum() == pytest.approx(1.0)
    embed = HashEmbedder().encode
    none = scorer.judge.coverage(0, [], embed([]))[0]
    on_topic = scorer.signals[:5]
    off_topic = ["wjp wjo wjn", "wio win wim", "whp who whn"]
    own = scorer.judge.coverage(0, on_topic, embed(on_topic))[0]
    other = scorer.judge.coverage(0, off_topic, embed(off_topic))[0]
    assert none == 0.0 and 0.0 <= other < own <= 1.0


def test_struct_and_total(scorer):
    good = render_completion(["wak wbl", "wcm wdn", "weo wfp"], "think")
    frame = scorer.score([0, 0], [good, "wak wbl, wcm wdn"])
    assert frame.loc[0, "struct"] == 1.0 and frame.loc[1, "struct"] == 0.0
    assert frame.loc[1, "n_queries"] == 0 and frame.loc[1, "total"] == 0.0
    np.testing.assert_allclose(frame["total"], frame[list(rewards.REWARD_NAMES)].sum(axis=1))


def test_weights_change_total(scorer):
    good = render_completion(["wak wbl", "wcm wdn", "weo wfp"], "think")
    weighted = rewards.RewardScorer(scorer.retriever, scorer.judge,
                                    rewards.RewardWeights(align=0, cov=0, spec=0, div=0, struct=2))
    assert weighted.score([0], [good]).loc[0, "total"] == pytest.approx(2.0)


def test_unknown_user_scores_without_error(scorer):
    frame = scorer.score([12345], [render_completion(["wak wbl", "wcm", "wdn"])])
    assert frame.loc[0, "cov"] == 0.0


def test_length_mismatch_is_an_error(scorer):
    with pytest.raises(ValueError, match="users but"):
        scorer.score([0, 1], ["x"])


ANY_TEXT = st.one_of(
    st.text(max_size=400),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=100),
    st.builds(lambda qs: render_completion([q for q in qs if q.strip()] or ["a"]),
              st.lists(st.text(alphabet="abcdefghijklmnop w", min_size=1, max_size=30),
                       min_size=1, max_size=40)),
    st.builds(lambda q, n: f"<think>x</think><queries>{' | '.join([q] * n)}</queries>",
              st.text(max_size=30), st.integers(0, 50)),
    st.just(""), st.just("<queries></queries>"), st.just("<think></think><queries> | | </queries>"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ANY_TEXT)
def test_every_reward_in_unit_interval_for_any_text(scorer, text):
    frame = scorer.score([0], [text])
    values = frame.loc[0, list(rewards.REWARD_NAMES)].to_numpy(dtype=float)
    assert np.all((values >= 0) & (values <= 1)), values
    assert np.isfinite(frame.loc[0, "total"])


def test_huge_inputs(scorer):
    huge = "<think>" + "x" * 1_000_000 + "</think><queries>" + " | ".join(
        f"w{'abcdefghij'[i % 10]}k w{'abcdefghij'[i % 7]}l" for i in range(1000)) + "</queries>"
    frame = scorer.score([0, 0, 0], [huge, None, b"\xff\xfe"])
    assert frame[list(rewards.REWARD_NAMES)].stack().between(0, 1).all()
