"""The simulated online test: a news feed served to the world's users for a few days.

**The world.** The test runs on a world of its own, built exactly as notebook 01_data
builds one (same corpus, topics and generative story, :mod:`newsstudy.world`) but with as
many users as an online test needs (:func:`ab_world_params`). Its held-out window is the
test period: day 0 of the test is the first day after the users' observed history, and
each day's *pool* is the articles on offer that day (published in the last
``freshness_days``, the world's own constant). The student never saw these users.

**The feed (both arms).** Each day a user may visit; a visitor gets a feed of
``feed_size`` articles from the day's pool, picked by a simple ranker over the union of
the recall paths. The existing (control) paths use only what production logs hold --
news clicks, article categories (the corpus's topic clusters, i.e. article metadata) and
the article's age -- never a user's latent interests:

* ``popular``: articles by recent clicks of all users, each click's weight halving every
  ``popularity_halflife_days`` (history clicks included), plus one pseudo-click so that
  a new article is not last.
* ``category``: the user's categories in order of affinity (share of their news clicks
  per category, smoothed towards the categories' overall shares with ``affinity_prior``
  pseudo-clicks; a user without clicks gets the overall shares), each category's
  articles in ``popular`` order.
* ``coclick``: item-to-item collaborative filtering: sum, over the user's clicked
  articles, of each candidate's co-click cosine with them (co-clicks counted over all
  users' clicks, history and test days, updated every night).

Each path keeps its ``recall_size`` best candidates the user has not clicked yet (an
article shown but not clicked may be shown again). The
treatment adds one more path, ``query``: the user's query list written once by the
distilled student from their cleaned cross-domain signals, each query searched in an ANN
index of the day's pool (:mod:`newsstudy.ab.treatment`). The ranker treats every path
alike: ``ranker="rrf"`` orders the union by reciprocal-rank fusion of the paths' ranks,
``sum 1 / (rrf_c + rank)`` (Cormack et al., 2009; an article several paths agree on
rises; ties in round-robin order), ``ranker="round_robin"`` interleaves the paths rank
by rank (every path gets an equal share of the slots) -- the two fusions of
:mod:`newsstudy.fusion`, vectorised. Nothing in the ranker knows which path is new, and
a path that retrieves nothing leaves the feed exactly as it was.

**Clicks** follow a position-based model (Craswell et al., 2008): a user examines the
article at rank ``r`` (0-based) with probability ``(1 + r) ** -position_decay`` and clicks
an examined article with probability ``attract(u, a)``, which depends only on the user's
*latent* interests (the world's interest topics, weights and terms) and the article:

    match(u, a)   = w(u, topic of a) * (topic_only_share + (1 - topic_only_share) * term)
    attract(u, a) = min(p_max, (p_outside + (p_interest - p_outside) * match) * pop(a))

where ``w`` is the weight of the user's interest in the article's topic relative to
their strongest interest (0 for topics they do not follow), ``term`` is 1 when the
article mentions one of the user's specific terms for that interest, and
``pop(a) = (popularity / mean popularity) ** popularity_exponent`` is the article's latent
appeal (the world's per-article popularity). This mirrors how the world generates news
clicks (interest by weight, term-mentioning articles preferred, popular articles more
likely, a little reading outside one's interests).

**Returning.** A user's probability to visit on a day is
``sigmoid(base_u + habit_u)``. ``base_u = logit(visit_rate) + activity_effect * z_u +
cold_shift * cold_u + visit_spread * e_u``: ``z_u`` is the user's standardised log
activity in the world, ``cold_u`` marks the world's cold users (few or no news clicks),
``e_u`` a standard-normal taste for the news feed. The habit starts at 0 and each night
becomes ``habit_decay * habit + s``, where a visit adds ``s = click_gain * min(clicks,
click_cap)`` and a visit without any click subtracts ``bounce_penalty`` (no visit: s = 0).
Being well served therefore raises tomorrow's visit probability -- the only way DAU can
move. Both arms share the same model, parameters and random numbers (each user-day's
uniform draws do not depend on the arm), so an arm's advantage can only come from the
articles its recall paths put in front of the user.

**State shared by the arms.** Popularity and co-clicks are learned from all users'
clicks, as a production system learns from all its traffic; this small interference
between arms is part of what a real test sees.

Everything in the day loop is vectorised over the day's visitors (numpy and scipy sparse
matrices of visitors x pool); the only Python loops are over days and recall paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from newsstudy.ab.stats import MEAN, RATIO, Metric
from newsstudy.schemas import DataParams

CONTROL_PATHS = ("popular", "category", "coclick")
AB_VAL_SHARE, AB_TEST_SHARE = 0.39, 0.5
"""Split of the A/B world: the remaining 11% of users train its cleaner (see ab_world_params)."""
TREATMENT_PATH = "query"
ARMS = ("control", "treatment")


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class ClickModel:
    """Position-based click model over latent relevance (see the module doc).

    ``position_decay``: examination probability at 0-based rank r is (1 + r)^-decay.
    ``p_interest``: click probability of an examined article of the user's strongest
    interest that mentions one of their terms (before the popularity factor).
    ``topic_only_share``: share of that probability an article of the topic earns
    without mentioning a term. ``p_outside``: click probability of an article outside
    the user's interests. ``popularity_exponent``: strength of the latent appeal factor.
    ``p_max``: cap of any click probability.
    """

    position_decay: float = 0.8
    p_interest: float = 0.5
    topic_only_share: float = 0.4
    p_outside: float = 0.02
    popularity_exponent: float = 0.3
    p_max: float = 0.95

    def examination(self, feed_size: int) -> np.ndarray:
        """Probability of examining each rank of a feed of ``feed_size`` articles."""
        return (1.0 + np.arange(feed_size)) ** -self.position_decay


@dataclass(frozen=True)
class ReturnModel:
    """Daily visits and habit (see the module doc).

    ``visit_rate``: visit probability of an average warm user on day 0. ``visit_spread``:
    standard deviation of users' taste for the feed on the logit scale.
    ``activity_effect``: logit change per standard deviation of log activity.
    ``cold_shift``: logit change for cold users. ``click_gain``: habit gained per click
    (up to ``click_cap`` clicks a day). ``bounce_penalty``: habit lost by a visit without
    a click. ``habit_decay``: share of the habit kept from one day to the next.
    """

    visit_rate: float = 0.35
    visit_spread: float = 1.0
    activity_effect: float = 0.5
    cold_shift: float = -1.0
    click_gain: float = 0.35
    click_cap: int = 3
    bounce_penalty: float = 0.35
    habit_decay: float = 0.6


@dataclass(frozen=True)
class FeedSettings:
    """The feed and its ranker (see the module doc).

    ``feed_size``: articles per feed. ``recall_size``: candidates each recall path keeps.
    ``ranker``: ``"rrf"`` or ``"round_robin"``. ``rrf_c``: the fusion constant.
    ``popularity_halflife_days``: half-life of a click's weight in ``popular``.
    ``affinity_prior``: pseudo-clicks smoothing a user's category shares.
    """

    feed_size: int = 10
    recall_size: int = 50
    ranker: str = "rrf"
    rrf_c: float = 60.0
    popularity_halflife_days: float = 1.0
    affinity_prior: float = 2.0

    def __post_init__(self):
        if self.ranker not in ("rrf", "round_robin"):
            raise ValueError(f"ranker must be 'rrf' or 'round_robin', got {self.ranker!r}")


class RecallPath(Protocol):
    """An extra recall path: ranks of a day's pool articles for some users.

    ``ranks(users, pool, day, size)`` gets user rows and pool article rows (indices into
    the market's users and articles) and returns int32 ``[len(users), len(pool)]``: the
    rank (0 = best) of every article the path retrieves for that user among its best
    ``size``, and ``size`` for every article it does not.
    """

    name: str

    def ranks(self, users: np.ndarray, pool: np.ndarray, day: int, size: int) -> np.ndarray:
        ...


# --------------------------------------------------------------------------- the world

def ab_world_params(data_params: DataParams, n_users: int, days: int,
                    history_days: int) -> DataParams:
    """The A/B world's parameters: the profile's 01_data world with ``n_users`` users.

    Changed from the profile's world: ``n_users``; ``history_days`` (the observed history
    before the test: a user's prompt shows only their most recent signals, so two weeks
    serve as well as four, at half the cost of building and cleaning 100,000 users'
    events); the held-out window ``test_days`` is the test's ``days`` (at least 3, the
    world's minimum); and the split, which here only decides whose labelled events train
    the world's cleaner (11% of the users: tens of thousands of events, ample for a
    linear model that is fitted on a 50,000-event sample anyway). The profile is
    ``<profile>-ab``, so the world is cached apart from the study's own.
    """
    values = data_params.model_dump()
    values.update(profile=f"{data_params.profile}-ab", n_users=n_users,
                  history_days=history_days, test_days=max(days, 3),
                  val_share=AB_VAL_SHARE, test_share=AB_TEST_SHARE)
    return DataParams.model_validate(values)


def build_ab_world(profile: str, n_users: int, days: int, history_days: int, log=print):
    """Build (or reuse) and load the A/B world of ``profile`` (see :func:`ab_world_params`).

    Its parameters are those the profile's own world was built with (read from that
    world's manifest, so notebook 01_data must have run), with ``n_users`` users.
    """
    from newsstudy import paths
    from newsstudy.io import read_json
    from newsstudy.world import data

    manifest = paths.world_dir(profile) / "manifest.json"
    if not manifest.is_file():
        raise data.WorldMissing(
            f"no world for profile {profile!r}: run notebook 01_data first "
            f"(newsstudy run 01_data --profile {profile})")
    base = DataParams.model_validate(read_json(manifest)["params"])
    params = ab_world_params(base, n_users, days, history_days)
    data.build_world(params, log=log)
    return data.load_world(params.profile)


def settings_from_params(params) -> tuple[FeedSettings, ClickModel, ReturnModel]:
    """The simulator's settings from a params object with fields of the same names."""
    def pick(cls):
        return cls(**{name: getattr(params, name) for name in cls.__dataclass_fields__})

    return pick(FeedSettings), pick(ClickModel), pick(ReturnModel)


def interest_terms(world) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The users' interest terms and which articles mention them (latent side).

    Returns the term vocabulary (every term some user follows) and a binary article x
    term matrix over the world's articles, computed from the same article text and
    tokenisation as the world's topics (:func:`newsstudy.world.topics.topic_documents`), so
    "mentions a term" means what it means in :mod:`newsstudy.world`.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    from newsstudy.world import corpus, topics

    vocabulary = np.array(sorted({t for terms in world.interests["terms"] for t in terms}))
    texts = corpus.load_articles()[["article_id", "text"]]
    arts = world.articles[["article_id", "title", "subtitle"]].merge(
        texts, on="article_id", how="left")
    arts["text"] = arts["text"].fillna("")
    vectorizer = CountVectorizer(
        vocabulary=vocabulary, stop_words=sorted(ENGLISH_STOP_WORDS | topics.BOILERPLATE),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z\-]{2,}\b", ngram_range=(1, 2), lowercase=True,
        binary=True)
    return vocabulary, vectorizer.transform(topics.topic_documents(arts)).tocsr()


@dataclass
class Market:
    """Everything the simulation reads, as arrays (rows: users and articles of the world).

    Observable (recall paths may read): ``article_topic`` (category), ``article_day``
    (publication day), ``history_clicks`` (users x articles, 1 where the user clicked the
    article before the test), ``history_click_article`` / ``history_click_day`` (every
    logged news click: article row and world day),
    ``is_cold``, ``first_day`` (world day of test day 0), ``freshness_days``.

    Latent (only the click and return models read): ``slot_topic`` / ``slot_weight``
    (users x interest slots; weights relative to the user's strongest interest, -1 / 0
    where unused), ``slot_terms`` (users x slots x terms, indices into the columns of
    ``article_terms``, -1 where unused), ``article_terms`` (articles x terms, bool),
    ``article_popularity``, ``activity_z`` (standardised log activity).
    """

    user_ids: np.ndarray
    article_ids: np.ndarray
    article_topic: np.ndarray
    article_day: np.ndarray
    history_clicks: sparse.csr_matrix
    history_click_article: np.ndarray
    history_click_day: np.ndarray
    is_cold: np.ndarray
    first_day: int
    freshness_days: int
    slot_topic: np.ndarray
    slot_weight: np.ndarray
    slot_terms: np.ndarray
    article_terms: np.ndarray
    article_popularity: np.ndarray
    activity_z: np.ndarray

    @property
    def n_users(self) -> int:
        """Users in the market."""
        return len(self.user_ids)

    @property
    def n_articles(self) -> int:
        """Articles in the market."""
        return len(self.article_ids)

    @property
    def n_topics(self) -> int:
        """Article categories."""
        return int(self.article_topic.max()) + 1

    def pool(self, day: int) -> np.ndarray:
        """Article rows on offer on test day ``day`` (published in the last freshness days)."""
        age = self.first_day + day - self.article_day
        return np.flatnonzero((age >= 0) & (age < self.freshness_days))

    @classmethod
    def from_world(cls, world) -> Market:
        """The market of a loaded world (:class:`newsstudy.world.data.WorldData`)."""
        users = world.users.sort_values("user_id")
        user_ids = users["user_id"].to_numpy()
        n_users = len(user_ids)
        if not np.array_equal(user_ids, np.arange(n_users)):
            raise ValueError("the world's user ids must be 0..n-1")
        arts = world.articles
        article_ids = arts["article_id"].to_numpy()
        row_of = pd.Series(np.arange(len(arts)), index=article_ids)

        news = world.events[(world.events["domain"] == "news") & (world.events["article_id"] >= 0)]
        click_user = news["user_id"].to_numpy()
        click_article = row_of.loc[news["article_id"].to_numpy()].to_numpy()
        clicks = sparse.csr_matrix(
            (np.ones(len(news), np.float32), (click_user, click_article)),
            shape=(n_users, len(arts)))
        clicks.data[:] = 1.0  # clicked or not

        interests = world.interests
        n_slots = int(interests["slot"].max()) + 1
        slot_topic = np.full((n_users, n_slots), -1, np.int32)
        slot_weight = np.zeros((n_users, n_slots), np.float32)
        u, s = interests["user_id"].to_numpy(), interests["slot"].to_numpy()
        slot_topic[u, s] = interests["topic"].to_numpy()
        slot_weight[u, s] = interests["weight"].to_numpy()
        slot_weight /= np.maximum(slot_weight.max(axis=1, keepdims=True), 1e-12)

        vocabulary, doc_terms = interest_terms(world)
        column = {t: i for i, t in enumerate(vocabulary)}
        n_terms = int(interests["terms"].map(len).max())
        slot_terms = np.full((n_users, n_slots, n_terms), -1, np.int32)
        exploded = interests[["user_id", "slot", "terms"]].explode("terms").dropna()
        position = exploded.groupby(level=0).cumcount().to_numpy()
        slot_terms[exploded["user_id"].to_numpy(), exploded["slot"].to_numpy(), position] = (
            exploded["terms"].map(column).to_numpy())

        log_activity = np.log(users["activity"].to_numpy())
        activity_z = (log_activity - log_activity.mean()) / max(log_activity.std(), 1e-12)
        constants = world.manifest.get("constants", {})
        return cls(
            user_ids=user_ids, article_ids=article_ids,
            article_topic=arts["topic"].to_numpy().astype(np.int32),
            article_day=arts["day"].to_numpy().astype(np.int64),
            history_clicks=clicks, history_click_article=click_article,
            history_click_day=news["day"].to_numpy().astype(np.int64),
            is_cold=users["is_cold"].to_numpy(bool), first_day=world.history_days,
            freshness_days=int(constants.get("freshness_days", 7)),
            slot_topic=slot_topic, slot_weight=slot_weight, slot_terms=slot_terms,
            article_terms=doc_terms.toarray().astype(bool),
            article_popularity=arts["popularity"].to_numpy().astype(np.float64),
            activity_z=activity_z.astype(np.float64))


# --------------------------------------------------------------------------- outcome

@dataclass
class Outcome:
    """What a simulated test produced, per user and day.

    ``visits`` (bool), ``clicks`` and ``impressions`` (int) are ``[users, days]``;
    ``treated`` marks the treatment arm; ``path_clicks`` counts, per recall path and
    arm, the clicks on articles that path had retrieved (an article may count for
    several paths), ``path_impressions`` likewise for shown articles.
    """

    user_ids: np.ndarray
    is_cold: np.ndarray
    treated: np.ndarray
    visits: np.ndarray
    clicks: np.ndarray
    impressions: np.ndarray
    path_clicks: dict = field(default_factory=dict)
    path_impressions: dict = field(default_factory=dict)

    @property
    def days(self) -> int:
        """Test days simulated."""
        return self.visits.shape[1]

    def per_user(self) -> pd.DataFrame:
        """One row per user: arm, cold flag, active days, clicks, impressions, DAU rate."""
        return pd.DataFrame({
            "user_id": self.user_ids,
            "arm": np.where(self.treated, "treatment", "control"),
            "is_cold": self.is_cold,
            "active_days": self.visits.sum(axis=1),
            "clicks": self.clicks.sum(axis=1),
            "impressions": self.impressions.sum(axis=1),
            "dau_rate": self.visits.mean(axis=1),
        })

    def daily(self) -> pd.DataFrame:
        """One row per day and arm: users, DAU, DAU rate, clicks, impressions, CTR."""
        rows = []
        for arm, mask in (("control", ~self.treated), ("treatment", self.treated)):
            for cold_label, sub in (("all", mask), ("cold", mask & self.is_cold)):
                for day in range(self.days):
                    dau = int(self.visits[sub, day].sum())
                    clicks = int(self.clicks[sub, day].sum())
                    impressions = int(self.impressions[sub, day].sum())
                    rows.append({"day": day, "arm": arm, "users": cold_label,
                                 "n_users": int(sub.sum()), "dau": dau,
                                 "dau_rate": dau / max(int(sub.sum()), 1), "clicks": clicks,
                                 "impressions": impressions,
                                 "ctr": clicks / impressions if impressions else np.nan})
        return pd.DataFrame(rows)

    def metrics(self, arm: str | None = None) -> dict[str, Metric]:
        """The test's metrics over one arm's users (``None``: every user).

        ``dau``: per-user share of days active (mean metric; arm mean = DAU / arm users).
        ``ctr``: clicks / impressions pooled over the arm (ratio metric).
        ``cold_dau``: ``dau`` over the arm's cold users.
        """
        mask = np.ones(len(self.user_ids), bool) if arm is None else (
            self.treated if arm == "treatment" else ~self.treated)
        dau = self.visits.mean(axis=1).astype(np.float64)
        return {
            "dau": Metric("dau", MEAN, dau[mask]),
            "ctr": Metric("ctr", RATIO, self.clicks.sum(axis=1)[mask].astype(np.float64),
                          self.impressions.sum(axis=1)[mask].astype(np.float64)),
            "cold_dau": Metric("cold_dau", MEAN, dau[mask & self.is_cold]),
        }

    def path_table(self) -> pd.DataFrame:
        """Per arm and recall path: impressions and clicks of articles the path retrieved."""
        rows = []
        for (arm, path), shown in self.path_impressions.items():
            clicks = self.path_clicks.get((arm, path), 0)
            rows.append({"arm": arm, "path": path, "impressions": int(shown),
                         "clicks": int(clicks), "ctr": clicks / shown if shown else np.nan})
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the loop

def top_ranks(scores: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """Ranks (0 = best) of each row's ``size`` best valid entries; ``size`` elsewhere.

    ``scores`` and ``valid`` are ``[n, p]``. Among the kept entries, equal scores rank
    the lower column first; which of several entries tied exactly at the cut-off is
    kept is numpy's ``argpartition``'s (deterministic) choice.

    >>> top_ranks(np.array([[0.1, 0.5, 0.3]]), np.array([[True, True, True]]), 2).tolist()
    [[2, 0, 1]]
    """
    n, p = scores.shape
    ranks = np.full((n, p), size, dtype=np.int32)
    keep = min(size, p)
    if n == 0 or p == 0 or keep == 0:
        return ranks
    key = np.where(valid, -np.asarray(scores, dtype=np.float64), np.inf)
    if keep < p:
        top = np.argpartition(key, keep - 1, axis=1)[:, :keep]
        top.sort(axis=1)  # column order, so the stable sort below breaks ties by column
    else:
        top = np.broadcast_to(np.arange(p), (n, p)).copy()
    top_keys = np.take_along_axis(key, top, axis=1)
    order = np.argsort(top_keys, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    values = np.broadcast_to(np.arange(keep, dtype=np.int32), (n, keep)).copy()
    values[np.take_along_axis(top_keys, order, axis=1) == np.inf] = size
    np.put_along_axis(ranks, top, values, axis=1)
    return ranks


def ranks_in_order(order: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """Like :func:`top_ranks` when every row ranks the columns in the same ``order``.

    Each row's rank of a column is the number of valid columns before it in ``order``
    (a cumulative sum instead of a sort per row).

    >>> ranks_in_order(np.array([1, 2, 0]), np.array([[True, False, True]]), 2).tolist()
    [[1, 2, 0]]
    """
    n, p = valid.shape
    ranks = np.full((n, p), size, dtype=np.int32)
    ordered = valid[:, order]
    position = np.cumsum(ordered, axis=1, dtype=np.int32) - 1
    ranks[:, order] = np.where(ordered & (position < size), position, size)
    return ranks


def category_ranks(affinity: np.ndarray, topic: np.ndarray, popularity: np.ndarray,
                   valid: np.ndarray, size: int) -> np.ndarray:
    """Ranks of the ``category`` path: categories by the user's affinity, then popularity.

    ``affinity`` ``[n, topics]``; ``topic`` and ``popularity`` per pool column; ``valid``
    ``[n, p]``. Categories are taken whole, in order of the user's affinity (ties: lower
    category id first); within one, articles by popularity (ties: lower column first).
    No sort per row: a user's rank of an article is the number of valid articles in the
    categories they put first, plus those of its own category that are more popular.

    >>> category_ranks(np.array([[0.2, 0.8]]), np.array([0, 1, 1]), np.array([5.0, 1.0, 2.0]),
    ...                np.array([[True, True, True]]), 3).tolist()
    [[2, 1, 0]]
    """
    n, p = valid.shape
    n_topics = affinity.shape[1]
    order = np.lexsort((np.arange(p), -popularity, topic))  # by category, then popularity
    ordered = valid[:, order]
    sorted_topic = topic[order]
    inclusive = np.cumsum(ordered, axis=1, dtype=np.int32)
    block_start = np.searchsorted(sorted_topic, np.arange(n_topics), side="left")
    before_block = np.where(block_start > 0, inclusive[:, np.maximum(block_start - 1, 0)], 0)
    within = inclusive - 1 - before_block[:, sorted_topic]
    per_topic = np.zeros((n, n_topics), np.int32)  # valid articles per category
    block_end = np.searchsorted(sorted_topic, np.arange(n_topics), side="right")
    after = np.where(block_end > 0, inclusive[:, np.maximum(block_end - 1, 0)], 0)
    per_topic[:] = after - before_block
    # categories by affinity, ties by category id
    topic_order = np.lexsort((np.broadcast_to(np.arange(n_topics), affinity.shape), -affinity),
                             axis=1)
    counts = np.take_along_axis(per_topic, topic_order, axis=1)
    offsets_sorted = np.cumsum(counts, axis=1, dtype=np.int32) - counts
    offsets = np.empty_like(offsets_sorted)
    np.put_along_axis(offsets, topic_order, offsets_sorted, axis=1)
    position = offsets[:, sorted_topic] + within
    ranks = np.full((n, p), size, dtype=np.int32)
    ranks[:, order] = np.where(ordered & (position < size), position, size)
    return ranks


RRF_SCALE = 1e12
"""RRF contributions are counted in integer units of 1 / RRF_SCALE, so equal sums tie
exactly (as ``math.fsum`` makes them in :func:`newsstudy.fusion.reciprocal_rank_fusion`)."""


def mix(path_ranks: Sequence[np.ndarray], feed: FeedSettings) -> np.ndarray:
    """The feed: ``[n, feed_size]`` pool columns picked from the paths' ranks (-1: empty).

    ``ranker="rrf"``: by reciprocal-rank fusion score ``sum 1 / (rrf_c + rank)`` (ranks
    from 1), ties broken by round-robin order, exactly as
    :func:`newsstudy.fusion.reciprocal_rank_fusion`. ``ranker="round_robin"``: rank 1 of
    every path (in path order), then rank 2, ..., as :func:`newsstudy.fusion.round_robin`.
    """
    size = feed.recall_size
    n, p = path_ranks[0].shape
    n_paths = len(path_ranks)
    never = np.iinfo(np.int64).max
    # round-robin position of every article: min over paths of rank * n_paths + path
    order_key = np.full((n, p), never, dtype=np.int64)
    for index, ranks in enumerate(path_ranks):
        table = np.append(np.arange(size, dtype=np.int64) * n_paths + index, never)
        np.minimum(order_key, table[ranks], out=order_key)
    valid = order_key < never
    if feed.ranker == "rrf":
        table = np.append(np.rint(RRF_SCALE / (feed.rrf_c + np.arange(size) + 1.0)), 0)
        score = np.zeros((n, p), dtype=np.int64)
        for ranks in path_ranks:
            score += table.astype(np.int64)[ranks]
        key = np.where(valid, -score * (size * n_paths + 1) + order_key, never)
    else:
        key = order_key
    k = min(feed.feed_size, p)
    if k < p:
        top = np.argpartition(key, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(p), (n, p)).copy()
    order = np.argsort(np.take_along_axis(key, top, axis=1), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    shown = np.take_along_axis(valid, top, axis=1)
    out = np.where(shown, top, -1)
    if k < feed.feed_size:
        out = np.concatenate([out, np.full((n, feed.feed_size - k), -1)], axis=1)
    return out


class _State:
    """What the production system has learned so far (observable) and the users' habit."""

    def __init__(self, market: Market, feed: FeedSettings):
        self.clicked = market.history_clicks.astype(np.float32).tocsr()
        self.clicked.data[:] = 1.0
        self.topic_clicks = np.asarray(
            (self.clicked @ sparse.csr_matrix(
                (np.ones(market.n_articles, np.float32),
                 (np.arange(market.n_articles), market.article_topic)),
                shape=(market.n_articles, market.n_topics))).todense(), dtype=np.float32)
        cooc = (self.clicked.T @ self.clicked).tocoo()
        self.cooc = np.zeros((market.n_articles, market.n_articles), np.float32)
        self.cooc[cooc.row, cooc.col] = cooc.data
        np.fill_diagonal(self.cooc, 0.0)
        self.item_clicks = np.asarray(self.clicked.sum(axis=0)).ravel().astype(np.float64)
        # popularity: history clicks, each weighted by its age at the start of the test
        age = market.first_day - market.history_click_day
        self.popularity = np.bincount(
            market.history_click_article, weights=np.exp2(-age / feed.popularity_halflife_days),
            minlength=market.n_articles)
        self.habit = np.zeros(market.n_users, np.float64)

    def record(self, users: np.ndarray, articles: np.ndarray, market: Market,
               feed: FeedSettings) -> None:
        """Learn from one day's clicks (``users[i]`` clicked ``articles[i]``)."""
        shape = (market.n_users, market.n_articles)
        day = sparse.csr_matrix((np.ones(len(users), np.float32), (users, articles)), shape=shape)
        day.data[:] = 1.0
        old = self.clicked
        new_pairs = day.T @ old + old.T @ day + day.T @ day
        new_pairs = new_pairs.tocoo()
        np.add.at(self.cooc, (new_pairs.row, new_pairs.col), new_pairs.data)
        np.fill_diagonal(self.cooc, 0.0)
        self.clicked = (old + day).tocsr()
        self.clicked.data[:] = 1.0
        self.item_clicks += np.bincount(articles, minlength=market.n_articles)
        np.add.at(self.topic_clicks, (users, market.article_topic[articles]), 1.0)
        self.popularity = (self.popularity * np.exp2(-1.0 / feed.popularity_halflife_days)
                           + np.bincount(articles, minlength=market.n_articles))


def _base_logit(market: Market, ret: ReturnModel, rng: np.random.Generator) -> np.ndarray:
    taste = rng.standard_normal(market.n_users)
    return (np.log(ret.visit_rate / (1 - ret.visit_rate))
            + ret.activity_effect * market.activity_z
            + ret.cold_shift * market.is_cold + ret.visit_spread * taste)


def attractiveness(market: Market, users: np.ndarray, articles: np.ndarray,
                   click: ClickModel) -> np.ndarray:
    """Click probability of examined (user, article) pairs, from the latent interests."""
    topic = market.article_topic[articles]
    slot_hit = market.slot_topic[users] == topic[:, None]
    weight = (market.slot_weight[users] * slot_hit).sum(axis=1)
    slot = slot_hit.argmax(axis=1)
    terms = market.slot_terms[users, slot]  # [pairs, terms]
    mentions = market.article_terms[articles[:, None], np.maximum(terms, 0)] & (terms >= 0)
    term = mentions.any(axis=1) & (weight > 0)
    match = weight * (click.topic_only_share + (1 - click.topic_only_share) * term)
    appeal = (market.article_popularity[articles] / market.article_popularity.mean()
              ) ** click.popularity_exponent
    return np.minimum(click.p_max,
                      (click.p_outside + (click.p_interest - click.p_outside) * match) * appeal)


def simulate(market: Market, treated: np.ndarray, days: int, seed: int,
             treatment_path: RecallPath | None = None, feed: FeedSettings | None = None,
             click: ClickModel | None = None, ret: ReturnModel | None = None) -> Outcome:
    """Run the test for ``days`` days: ``treated`` users also get ``treatment_path``.

    Deterministic given ``seed``. Each user-day's random numbers (visit, clicks) are
    drawn for every user whether or not they visit, so they do not depend on the arms.
    """
    feed, click, ret = feed or FeedSettings(), click or ClickModel(), ret or ReturnModel()
    treated = np.asarray(treated, bool)
    if treated.shape != (market.n_users,):
        raise ValueError(f"treated must have one flag per user ({market.n_users})")
    if treated.any() and treatment_path is None:
        raise ValueError("treated users need a treatment_path")
    n, k = market.n_users, feed.feed_size
    base = _base_logit(market, ret, np.random.default_rng([seed, 1]))
    draws = np.random.default_rng([seed, 2])
    state = _State(market, feed)
    exam = click.examination(k)
    visits = np.zeros((n, days), bool)
    clicks = np.zeros((n, days), np.int16)
    impressions = np.zeros((n, days), np.int16)
    path_names = [*CONTROL_PATHS, TREATMENT_PATH]
    path_clicks = {(arm, p): 0 for arm in ARMS for p in path_names}
    path_shown = {(arm, p): 0 for arm in ARMS for p in path_names}
    size = feed.recall_size

    for day in range(days):
        u_visit = draws.random(n)
        u_click = draws.random((n, k))
        visitors = np.flatnonzero(u_visit < 1.0 / (1.0 + np.exp(-(base + state.habit))))
        visits[visitors, day] = True
        pool = market.pool(day)
        if len(pool) == 0 or len(visitors) == 0:
            state.habit *= ret.habit_decay
            continue
        clicked = state.clicked[visitors]
        seen = clicked[:, pool].toarray() > 0
        fresh = ~seen

        popularity = state.popularity[pool] + 1.0
        ranks_popular = ranks_in_order(np.argsort(-popularity, kind="stable"), fresh, size)

        topic_total = state.topic_clicks.sum(axis=0)
        topic_share = (topic_total + 1.0) / (topic_total.sum() + market.n_topics)
        counts = state.topic_clicks[visitors]
        affinity = ((counts + feed.affinity_prior * topic_share)
                    / (counts.sum(axis=1, keepdims=True) + feed.affinity_prior))
        ranks_category = category_ranks(affinity, market.article_topic[pool], popularity,
                                        fresh, size)

        norm = np.sqrt(np.maximum(state.item_clicks, 1.0))
        cosine = state.cooc[:, pool] / norm[:, None] / norm[pool][None, :]
        co_scores = np.asarray(clicked @ cosine)
        ranks_coclick = top_ranks(co_scores, fresh & (co_scores > 0), size)

        ranks = [ranks_popular, ranks_category, ranks_coclick]
        is_treated = treated[visitors]
        if treatment_path is not None and is_treated.any():
            extra = np.full((len(visitors), len(pool)), size, np.int32)
            rows = np.flatnonzero(is_treated)
            retrieved = treatment_path.ranks(visitors[rows], pool, day, size)
            # like every path, its candidates are articles the user has not clicked yet
            keep = fresh[rows] & (retrieved < size)
            extra[rows] = top_ranks(-retrieved.astype(np.float64), keep, size)
            ranks.append(extra)
        shown = mix(ranks, feed)

        has = shown >= 0
        rows, slots = np.nonzero(has)
        users = visitors[rows]
        articles = pool[shown[rows, slots]]
        prob = exam[slots] * attractiveness(market, users, articles, click)
        hit = u_click[users, slots] < prob
        day_clicks = np.bincount(rows[hit], minlength=len(visitors))
        clicks[visitors, day] = day_clicks
        impressions[visitors, day] = has.sum(axis=1)

        arm_of_pair = np.where(treated[users], "treatment", "control")
        for index, name in enumerate(path_names):
            if index >= len(ranks):
                break
            in_path = ranks[index][rows, shown[rows, slots]] < size
            for arm in ARMS:
                sel = in_path & (arm_of_pair == arm)
                path_shown[(arm, name)] += int(sel.sum())
                path_clicks[(arm, name)] += int((sel & hit).sum())

        gain = (ret.click_gain * np.minimum(day_clicks, ret.click_cap)
                - ret.bounce_penalty * (day_clicks == 0))
        state.habit *= ret.habit_decay
        state.habit[visitors] += gain
        state.record(users[hit], articles[hit], market, feed)

    return Outcome(user_ids=market.user_ids, is_cold=market.is_cold, treated=treated,
                   visits=visits, clicks=clicks, impressions=impressions,
                   path_clicks=path_clicks, path_impressions=path_shown)


def assign_arms(n_users: int, seed: int, share: float = 0.5) -> np.ndarray:
    """User-level randomisation: exactly ``round(share * n)`` random users are treated."""
    rng = np.random.default_rng([seed, 0])
    treated = np.zeros(n_users, bool)
    treated[rng.permutation(n_users)[: int(round(share * n_users))]] = True
    return treated


def settings_dict(feed: FeedSettings, click: ClickModel, ret: ReturnModel) -> dict:
    """All simulator settings as one flat-ish dict (for results and cache keys)."""
    return {"feed": asdict(feed), "click": asdict(click), "return": asdict(ret)}


def synthetic_market(n_users: int = 2000, n_articles: int = 400, n_topics: int = 10,
                     n_slots: int = 3, n_terms: int = 4, vocabulary: int = 200,
                     cold_share: float = 0.2, clicks_per_warm_user: float = 12.0,
                     days: int = 7, freshness_days: int = 7, history_days: int = 28,
                     corpus_days: int = 100, seed: int = 0) -> Market:
    """A market drawn without a world, shaped like one (for tests and benchmarks).

    Articles are published at random over ``corpus_days`` days ending on the last test
    day (the real corpus: about 3,650 articles over 100 days), each with a topic;
    users follow ``n_slots`` topics with Dirichlet weights and ``n_terms`` terms per
    topic; warm users clicked about ``clicks_per_warm_user`` fresh articles of their
    topics before the test, cold users almost none.
    """
    rng = np.random.default_rng(seed)
    first_day = history_days
    article_day = np.sort(rng.integers(first_day + days - corpus_days, first_day + days,
                                       n_articles))
    article_topic = rng.integers(0, n_topics, n_articles).astype(np.int32)
    article_terms = rng.random((n_articles, vocabulary)) < 8.0 / vocabulary

    keys = rng.random((n_users, n_topics))
    slot_topic = np.argsort(keys, axis=1)[:, :n_slots].astype(np.int32)
    weight = rng.gamma(1.0, size=(n_users, n_slots))
    slot_weight = (weight / weight.max(axis=1, keepdims=True)).astype(np.float32)
    slot_terms = rng.integers(0, vocabulary, (n_users, n_slots, n_terms)).astype(np.int32)
    is_cold = rng.random(n_users) < cold_share

    counts = rng.poisson(np.where(is_cold, 0.3, clicks_per_warm_user))
    user = np.repeat(np.arange(n_users), counts)
    slot = rng.integers(0, n_slots, len(user))
    day = rng.integers(0, first_day, len(user))
    topic = slot_topic[user, slot]
    # a fresh article of the topic on that day (uniformly), else any fresh article
    span = first_day + days + freshness_days
    by_topic = np.lexsort((article_day, article_topic))
    topic_key = article_topic[by_topic].astype(np.int64) * span + article_day[by_topic]
    lo = np.searchsorted(topic_key, topic * span + day - freshness_days + 1, side="left")
    hi = np.searchsorted(topic_key, topic * span + day, side="right")
    any_lo = np.searchsorted(article_day, day - freshness_days + 1, side="left")
    any_hi = np.searchsorted(article_day, day, side="right")
    own = hi > lo
    pick = rng.random(len(user))
    article = np.where(own, by_topic[np.minimum(lo + (pick * (hi - lo)).astype(np.int64),
                                                len(by_topic) - 1)],
                       np.minimum(any_lo + (pick * (any_hi - any_lo)).astype(np.int64),
                                  n_articles - 1))
    keep = own | (any_hi > any_lo)
    user, article, day = user[keep], article[keep], day[keep]
    clicks = sparse.csr_matrix((np.ones(len(user), np.float32), (user, article)),
                               shape=(n_users, n_articles))
    clicks.data[:] = 1.0
    return Market(
        user_ids=np.arange(n_users), article_ids=np.arange(n_articles) + 10_000,
        article_topic=article_topic, article_day=article_day.astype(np.int64),
        history_clicks=clicks, history_click_article=article,
        history_click_day=day.astype(np.int64), is_cold=is_cold, first_day=first_day,
        freshness_days=freshness_days, slot_topic=slot_topic, slot_weight=slot_weight,
        slot_terms=slot_terms, article_terms=article_terms,
        article_popularity=rng.lognormal(0.0, 1.0, n_articles),
        activity_z=rng.standard_normal(n_users))
