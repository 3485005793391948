"""The simulated A/B test: statistics, simulator, treatment path and published policies.

Fast: the simulator runs on small synthetic markets (``ab_market.synthetic_market``), the
policy is a tiny untrained checkpoint, and nothing builds a world.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from newsstudy import paper
from newsstudy.ab import feed as ab_feed
from newsstudy.ab import market as ab_market
from newsstudy.ab import settings, simulate, stats, treatment
from newsstudy.ab import tables as ab_tables
from newsstudy.fusion import reciprocal_rank_fusion, round_robin
from newsstudy.policy import published

# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(1.0, 1.0, 300)
    b = rng.normal(1.1, 2.0, 200)
    diff, t, p = stats.welch_test(a, b)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert diff == pytest.approx(b.mean() - a.mean())
    assert t == pytest.approx(ref.statistic, rel=1e-10)
    assert p == pytest.approx(ref.pvalue, rel=1e-10)
    result = stats.compare(stats.Metric("x", stats.MEAN, a), stats.Metric("x", stats.MEAN, b))
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert result.lift == pytest.approx(b.mean() / a.mean() - 1)
    assert result.ci_low < result.lift < result.ci_high


def test_ratio_delta_method_matches_hand_linearisation():
    rng = np.random.default_rng(3)
    y = rng.poisson(20, 500).astype(float)
    x = rng.binomial(y.astype(int), 0.07).astype(float)
    ratio, se = stats.ratio_with_se(x, y)
    assert ratio == pytest.approx(x.sum() / y.sum())
    linear = (x - ratio * y) / y.mean()  # influence of each user on the ratio
    assert se == pytest.approx(linear.std(ddof=1) / math.sqrt(len(x)), rel=1e-9)


@pytest.mark.parametrize("kind", [stats.MEAN, stats.RATIO])
def test_bootstrap_agrees_with_analytic_interval(kind):
    rng = np.random.default_rng(4)

    def arm(n, rate):
        impressions = rng.poisson(30, n).astype(float)
        clicks = rng.binomial(impressions.astype(int), rate).astype(float)
        if kind == stats.MEAN:
            return stats.Metric("m", kind, clicks)
        return stats.Metric("m", kind, clicks, impressions)

    control, treated = arm(4000, 0.05), arm(4000, 0.055)
    result = stats.compare(control, treated, n_bootstrap=2000, seed=1)
    assert result.boot_se_lift == pytest.approx(result.se_lift, rel=0.1)
    width = result.ci_high - result.ci_low
    assert result.boot_ci_low == pytest.approx(result.ci_low, abs=0.1 * width)
    assert result.boot_ci_high == pytest.approx(result.ci_high, abs=0.1 * width)
    # p-values agree in what they say: both far below / near the same level
    assert abs(math.log10(result.boot_p_value) - math.log10(max(result.p_value, 1e-3))) < 0.7


def test_bootstrap_p_value_is_two_sided():
    assert stats.bootstrap_p_value(np.linspace(-1, 1, 1001)) == pytest.approx(1.0)
    assert stats.bootstrap_p_value(np.linspace(0.1, 1, 999)) == pytest.approx(2 / 1000)


def test_aa_false_positive_rate_on_skewed_data():
    rng = np.random.default_rng(5)
    n = 3000
    impressions = rng.poisson(rng.gamma(0.5, 40, n)).astype(float)  # many zeros, heavy tail
    clicks = rng.binomial(impressions.astype(int), 0.06).astype(float)
    active = rng.binomial(7, rng.beta(1, 2, n)) / 7
    cold = rng.random(n) < 0.2
    metrics = {"dau": stats.Metric("dau", stats.MEAN, active),
               "ctr": stats.Metric("ctr", stats.RATIO, clicks, impressions),
               "cold_dau": stats.Metric("cold_dau", stats.MEAN, active[cold])}
    p = stats.aa_p_values(metrics, n_replicates=400, seed=0, subsets={"cold_dau": cold})
    assert p.shape == (400, 3)
    fpr = stats.false_positive_rate(p, 0.05).set_index("metric")["fpr"]
    for name in metrics:
        assert 0.02 <= fpr[name] <= 0.08, (name, fpr[name])


def test_aa_detects_a_real_difference_when_labels_carry_it():
    # sanity of the machinery: a metric that differs by subset is caught every time
    x = np.r_[np.zeros(500), np.ones(500)] + np.random.default_rng(0).normal(0, 0.1, 1000)
    p = stats.compare(stats.Metric("x", stats.MEAN, x[:500]),
                      stats.Metric("x", stats.MEAN, x[500:])).p_value
    assert p < 1e-10


def test_power_and_mde_are_consistent():
    sd, mean = 2.0, 10.0
    n = stats.users_per_arm_needed(sd, mean, lift=0.01, alpha=0.05, power=0.8)
    assert stats.minimum_detectable_effect(sd, mean, n, 0.05, 0.8) == pytest.approx(0.01)
    assert stats.analytic_power(sd, mean, 0.01, n, 0.05) == pytest.approx(0.8, abs=1e-3)
    assert stats.analytic_power(sd, mean, 0.0, 1000, 0.05) == pytest.approx(0.05)


def test_subsampled_power_tracks_analytic_power():
    rng = np.random.default_rng(6)
    control = stats.Metric("x", stats.MEAN, rng.normal(10, 2, 20000))
    treated = stats.Metric("x", stats.MEAN, rng.normal(10.1, 2, 20000))
    table = stats.power_check({"x": control}, {"x": treated}, fractions=(0.1, 0.4),
                              n_replicates=300, seed=0)
    for row in table.itertuples():
        assert row.subsampled_power == pytest.approx(row.analytic_power, abs=0.12)


# --------------------------------------------------------------------------- simulator

@pytest.fixture(scope="module")
def market():
    return ab_market.synthetic_market(n_users=3000, n_articles=2000, n_topics=12, seed=1)


class OraclePath:
    """Test only: ranks the pool by each user's true click probability (latent interests)."""

    name = simulate.TREATMENT_PATH

    def __init__(self, market):
        self.market = market

    def ranks(self, users, pool, day, size):
        u = np.repeat(users, len(pool))
        a = np.tile(pool, len(users))
        truth = simulate.attractiveness(self.market, u, a, settings.ClickModel())
        truth = truth.reshape(len(users), len(pool))
        return ab_feed.top_ranks(truth, np.ones_like(truth, bool), size)


class EmptyPath:
    """Retrieves nothing (an untrained policy's garbage that matched no article)."""

    name = simulate.TREATMENT_PATH

    def ranks(self, users, pool, day, size):
        return np.full((len(users), len(pool)), size, np.int32)


def test_simulation_is_deterministic_given_the_seed(market):
    treated = simulate.assign_arms(market.n_users, 0)
    first = simulate.simulate(market, treated, 5, seed=7, treatment_path=OraclePath(market))
    second = simulate.simulate(market, treated, 5, seed=7, treatment_path=OraclePath(market))
    other = simulate.simulate(market, treated, 5, seed=8, treatment_path=OraclePath(market))
    for name in ("visits", "clicks", "impressions"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    assert not np.array_equal(first.visits, other.visits)
    assert first.path_clicks == second.path_clicks


def test_assignment_is_an_exact_half():
    treated = simulate.assign_arms(1001, 3)
    assert treated.sum() == 500 or treated.sum() == 501
    assert np.array_equal(treated, simulate.assign_arms(1001, 3))


def test_an_empty_treatment_path_changes_nothing(market):
    """The treatment can only act through the articles it retrieves."""
    control = simulate.simulate(market, np.zeros(market.n_users, bool), 7, seed=2)
    treated = simulate.simulate(market, np.ones(market.n_users, bool), 7, seed=2,
                                treatment_path=EmptyPath())
    for name in ("visits", "clicks", "impressions"):
        assert np.array_equal(getattr(control, name), getattr(treated, name))


@pytest.mark.parametrize("ranker", ["rrf", "round_robin"])
def test_a_path_of_truly_relevant_articles_raises_ctr_and_dau(market, ranker):
    feed = settings.FeedSettings(ranker=ranker)
    none = np.zeros(market.n_users, bool)
    everyone = np.ones(market.n_users, bool)
    base = simulate.simulate(market, none, 7, seed=3, feed=feed).metrics()
    oracle = simulate.simulate(market, everyone, 7, seed=3, treatment_path=OraclePath(market),
                               feed=feed).metrics()
    ctr = stats.compare(base["ctr"], oracle["ctr"])
    dau = stats.compare(base["dau"], oracle["dau"])
    assert ctr.lift > 0.05 and ctr.p_value < 0.01
    assert dau.lift > 0


@pytest.mark.parametrize("ranker", ["rrf", "round_robin"])
def test_a_path_of_random_articles_does_not_help(market, ranker):
    class RandomPath:
        name = simulate.TREATMENT_PATH

        def ranks(self, users, pool, day, size):
            scores = np.random.default_rng(day).random((len(users), len(pool)))
            return ab_feed.top_ranks(scores, np.ones_like(scores, bool), size)

    feed = settings.FeedSettings(ranker=ranker)
    none = np.zeros(market.n_users, bool)
    base = simulate.simulate(market, none, 7, seed=4, feed=feed).metrics()
    noisy = simulate.simulate(market, ~none, 7, seed=4, treatment_path=RandomPath(),
                              feed=feed).metrics()
    lift = stats.compare(base["ctr"], noisy["ctr"]).lift
    assert lift < 0.0


def test_aa_on_the_simulator_holds_its_size(market):
    outcome = simulate.simulate(market, np.zeros(market.n_users, bool), 7, seed=5)
    p = stats.aa_p_values(outcome.metrics(), n_replicates=300, seed=1,
                          subsets={"cold_dau": market.is_cold})
    fpr = stats.false_positive_rate(p, 0.05).set_index("metric")["fpr"]
    assert ((fpr >= 0.02) & (fpr <= 0.08)).all(), fpr.to_dict()


def test_click_model_follows_latent_interest():
    m = ab_market.synthetic_market(n_users=5, n_articles=50, n_topics=5, seed=0)
    click = settings.ClickModel(popularity_exponent=0.0)
    m.slot_topic[0] = [0, 1, -1]
    m.slot_weight[0] = [1.0, 0.5, 0.0]
    m.slot_terms[0] = [[3, -1, -1, -1], [4, -1, -1, -1], [-1, -1, -1, -1]]
    m.article_topic[:3] = [0, 0, 2]
    m.article_terms[:3] = False
    m.article_terms[0, 3] = True  # article 0: main interest, names the user's term
    p = simulate.attractiveness(m, np.zeros(3, int), np.arange(3), click)
    assert p[0] == pytest.approx(click.p_interest)
    assert p[1] == pytest.approx(click.p_outside + (click.p_interest - click.p_outside)
                                 * click.topic_only_share)
    assert p[2] == pytest.approx(click.p_outside)


def test_top_ranks_and_mix_match_the_fusion_functions():
    rng = np.random.default_rng(0)
    p, size = 30, 8
    scores = [rng.random((1, p)) for _ in range(3)]
    ranks = [ab_feed.top_ranks(s, np.ones((1, p), bool), size) for s in scores]
    lists = [list(np.argsort(-s[0])[:size]) for s in scores]
    for path, expected in zip(ranks, lists, strict=True):
        assert [int(np.flatnonzero(path[0] == r)[0]) for r in range(size)] == expected
    for c in (60.0, 1.0):
        rrf = ab_feed.mix(ranks, settings.FeedSettings(feed_size=6, recall_size=size, rrf_c=c))
        assert list(rrf[0]) == reciprocal_rank_fusion(lists, k=6, c=c)
    rr = ab_feed.mix(ranks, settings.FeedSettings(feed_size=6, recall_size=size,
                                                   ranker="round_robin"))
    assert list(rr[0]) == round_robin(lists, k=6)


def test_category_ranks_match_a_sort():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n, p, t = 6, int(rng.integers(1, 30)), int(rng.integers(1, 5))
        topic = rng.integers(0, t, p)
        affinity = rng.integers(0, 3, (n, t)).astype(float)
        popularity = rng.integers(1, 4, p).astype(float)
        valid = rng.random((n, p)) < 0.7
        size = int(rng.integers(1, p + 2))
        got = ab_feed.category_ranks(affinity, topic, popularity, valid, size)
        for row in range(n):
            order = sorted(range(p), key=lambda c, r=row: (
                -affinity[r, topic[c]], topic[c], -popularity[c], c))
            kept = [c for c in order if valid[row, c]][:size]
            expected = np.full(p, size)
            expected[kept] = np.arange(len(kept))
            assert np.array_equal(got[row], expected)


def test_day_loop_has_no_per_user_python_loop():
    """Python-level calls of a simulation do not grow with the number of users."""
    def calls(n_users):
        m = ab_market.synthetic_market(n_users=n_users, n_articles=300, n_topics=8, seed=0)
        count = 0

        def profiler(frame, event, arg):
            nonlocal count
            if event in ("call", "c_call"):
                count += 1

        sys.setprofile(profiler)
        try:
            simulate.simulate(m, simulate.assign_arms(n_users, 0), 3, seed=0,
                              treatment_path=EmptyPath())
        finally:
            sys.setprofile(None)
        return count

    small, large = calls(200), calls(4000)
    assert large < 1.3 * small, (small, large)


# --------------------------------------------------------------------------- treatment

class HashEmbedder:
    """Deterministic bag-of-words vectors (tests only)."""

    name = "hash"
    dim = 64

    def encode(self, texts, show_progress=False):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, sum(map(ord, word)) % self.dim] += 1.0
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norm > 0, norm, 1.0)


def test_query_path_ranks_equal_the_serving_retriever():
    from newsstudy.index import NewsIndex
    from newsstudy.retrieval import Retriever

    embedder = HashEmbedder()
    words = [f"w{i}" for i in range(40)]
    rng = np.random.default_rng(0)
    titles = [" ".join(rng.choice(words, 4)) for _ in range(120)]
    vectors = embedder.encode(titles)
    lists = [["w1 w2", "w3", "w7 w9 w11"], [], ["w5"], ["w2 w30", "w31 w4"]]
    path = treatment.QueryPath(np.array([4, 7, 9, 11]), lists, vectors, embedder,
                               index_kind="exact", k_per_query=5, max_queries=8)
    pool = np.sort(rng.choice(120, 60, replace=False))
    size = 12
    ranks = path.ranks(np.array([11, 4, 7, 9]), pool, day=0, size=size)
    retriever = Retriever(NewsIndex(pool, vectors[pool]), embedder, k_per_query=5)
    for row, queries in zip(ranks, [lists[3], lists[0], lists[1], lists[2]], strict=True):
        expected = retriever.retrieve([queries], fusion="round_robin", top_n=size)[0]
        got = [int(pool[c]) for c in np.argsort(row, kind="stable") if row[c] < size]
        assert got == expected


def test_missing_published_policy_names_the_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path))
    with pytest.raises(published.PolicyNotPublished, match="run 05_distillation for profile default"):
        published.load_published("default", "student")
    with pytest.raises(published.PolicyNotPublished, match="03_grpo"):
        published.load_published("smoke", "prompt_only")


class FakeWorld:
    """What list generation reads from a world: cleaned events and the manifest."""

    manifest = {"world_hash": "fake"}

    def __init__(self):
        self.events = pd.DataFrame({
            "event_id": range(6), "user_id": [0, 0, 1, 2, 2, 2], "day": [1, 2, 1, 0, 1, 2],
            "domain": ["search", "news", "browse", "search", "search", "news"],
            "text": ["brexit vote", "Parliament debates Brexit", "Tennis - Wikipedia",
                     "oil prices", "opec meeting", "Oil falls after OPEC talks"],
            "kept": [True] * 6})

    def clean_events(self):
        return self.events[self.events["kept"]]


@pytest.fixture
def published_tiny_policy(tmp_path, monkeypatch):
    """An untrained ``xs`` checkpoint published as ``student`` in a throwaway artifacts root."""
    from newsstudy.policy.checkpoints import PolicyStore
    from newsstudy.policy.ladder import build_policy
    from newsstudy.policy.tokenizer import train_tokenizer

    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path / "artifacts"))
    texts = ["signals: search brexit vote news oil prices", "write news search queries:",
             "<think>recent: search</think><queries>brexit | oil | tennis</queries>"] * 20
    tokenizer = train_tokenizer(texts, vocab_size=400)
    model = build_policy("xs", tokenizer, seed=0)
    folder = tmp_path / "artifacts" / "smoke" / "models" / "tiny"
    PolicyStore(folder.parent).save(folder, model, tokenizer, {"kind": "test"})
    published.publish_policy("smoke", "student", "smoke/models/tiny", 200, "05_distillation",
                             max_prompt_signals=48, decoding=None, prompt_candidates=0)
    return folder


def test_lists_are_generated_once_and_cached(published_tiny_policy, tmp_path, monkeypatch):
    policy = published.load_published("smoke", "student")
    assert policy.checkpoint == published_tiny_policy
    assert policy.max_prompt_chars == 200
    world = FakeWorld()
    cache = tmp_path / "artifacts" / "smoke" / "ab"
    lists, info = treatment.generate_lists(world, np.array([2, 0, 1]), policy, cache,
                                           max_new_tokens=8, log=lambda *_: None)
    assert list(lists["user_id"]) == [0, 1, 2]
    assert not info["cached"] and info["n_users"] == 3
    assert all(isinstance(q, (list, np.ndarray)) for q in lists["queries"])

    from newsstudy.policy import generate

    def refuse(*args, **kwargs):
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(generate, "sample_completions", refuse)
    again, info_again = treatment.generate_lists(world, np.array([0, 1, 2]), policy, cache,
                                                 max_new_tokens=8, log=lambda *_: None)
    assert info_again["cached"]
    pd.testing.assert_frame_equal(lists, again)
    assert len(list(cache.glob("lists-*.parquet"))) == 1
    assert not list(cache.glob(".*tmp"))


@pytest.mark.parametrize("decoding", [None, {"temperature": 1.0, "top_p": 1.0,
                                              "duplicate_guard": True, "max_new_tokens": 8}])
def test_lists_do_not_depend_on_how_many_processes_draw_them(
        published_tiny_policy, tmp_path, monkeypatch, decoding):
    """Chunks of whole batches, each with its own seed: one process or two, greedy or
    sampled, the same lists."""
    import dataclasses

    policy = dataclasses.replace(published.load_published("smoke", "student"), decoding=decoding)
    monkeypatch.setattr(treatment, "CHUNK_BATCHES", 1)  # one prompt per chunk
    drawn = []
    for workers in ("1", "2"):
        monkeypatch.setenv("NEWSSTUDY_WORKERS", workers)
        lists, info = treatment.generate_lists(FakeWorld(), np.array([0, 1, 2]), policy,
                                               tmp_path / f"cache{workers}", max_new_tokens=8,
                                               batch_size=1, log=lambda *_: None)
        assert not info["cached"]
        drawn.append(lists)
    pd.testing.assert_frame_equal(*drawn)


# --------------------------------------------------------------------------- notebook results

def check_ab_results(report_dir: Path) -> None:
    """What notebook 06_ab_simulation must have written (call with a report folder)."""
    from newsstudy.ab.results import ABResults
    from newsstudy.io import read_json

    results = ABResults.model_validate(
        read_json(report_dir / "results" / "06_ab_simulation.json"))
    assert results.n_control + results.n_treatment == results.n_users
    assert abs(results.n_control - results.n_treatment) <= 1
    for name in ("dau", "ctr", "cold_dau"):
        row = results.metrics[name]
        assert row.lift.low <= row.lift.mean <= row.lift.high
        assert 0.0 <= row.p_value <= 1.0 and 0.0 <= row.boot_p_value <= 1.0
        assert row.control > 0 and row.treatment > 0
        assert row.paper_lift == paper.AB_TEST[name]["lift"]
        assert 0.02 <= results.aa.fpr[name] <= 0.08
    assert results.aa.replicates >= 200
    assert results.policy.users == results.n_treatment
    for name in ("06_ab_table", "06_daily", "06_aa_tests", "06_mde_curve", "06_power_check",
                 "06_recall_paths"):
        assert (report_dir / "tables" / f"{name}.csv").exists(), name
    for name in ("06_daily", "06_aa_p_values", "06_power_mde"):
        assert (report_dir / "figures" / f"{name}.png").stat().st_size > 5_000, name


def test_doctests():
    import doctest

    for module in (simulate, stats):
        assert doctest.testmod(module).failed == 0, module.__name__


# --------------------------------------------------------------------------- 06's tables


def test_users_for_paper_lifts_by_hand():
    rng = np.random.default_rng(0)
    x = rng.binomial(7, 0.3, size=5_000) / 7  # a share of active days per user
    control = {"dau": stats.Metric("dau", stats.MEAN, x)}
    needed = ab_tables.users_for_paper_lifts(control, 0.05, 0.8, coverage={})
    from scipy.stats import norm

    z = norm.ppf(0.975) + norm.ppf(0.8)
    lift = paper.AB_TEST["dau"]["lift"]
    by_hand = 2 * (z * x.std(ddof=0) / (lift * x.mean())) ** 2
    assert needed["dau"] == pytest.approx(by_hand, rel=1e-3)
    # a metric that covers a quarter of the users needs four times as many per arm
    covered = ab_tables.users_for_paper_lifts(control, 0.05, 0.8, coverage={"dau": 0.25})
    assert covered["dau"] == pytest.approx(4 * needed["dau"])
    # at that many users the minimum detectable effect is the paper's lift
    mde = stats.minimum_detectable_effect(x.std(ddof=0), x.mean(), needed["dau"], 0.05, 0.8)
    assert float(mde) == pytest.approx(lift, rel=1e-3)


def test_comparison_table_puts_ours_beside_the_papers():
    rng = np.random.default_rng(1)
    control = stats.Metric("dau", stats.MEAN, rng.random(400))
    treated = stats.Metric("dau", stats.MEAN, rng.random(400) + 0.05)
    table = ab_tables.comparison_table({"dau": stats.compare(control, treated)}, days=7)
    row = table.iloc[0]
    assert row["metric"] == paper.AB_LABELS["dau"]
    assert row["lift %"] == pytest.approx(100 * (treated.x.mean() / control.x.mean() - 1))
    assert row["paper lift %"] == pytest.approx(100 * paper.AB_TEST["dau"]["lift"])
    assert row["days (ours / paper)"] == f"7 / {paper.AB_DAYS}"
