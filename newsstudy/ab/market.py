"""The A/B test's world as the simulator sees it: the market of users, articles and clicks.

:func:`build_ab_world` builds the test's own world (notebook 01's generative story with as
many users as an online test needs, :func:`ab_world_params`); :class:`Market` holds what
the day loop reads of it; :func:`synthetic_market` makes a small one for tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from newsstudy.schemas import DataParams

# --------------------------------------------------------------------------- the world

AB_VAL_SHARE, AB_TEST_SHARE = 0.39, 0.5
"""Split of the A/B world: the remaining 11% of users train its cleaner (see ab_world_params)."""


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
    """Build (or reuse) and load the A/B world of ``profile`` (:func:`prepare_ab_world`)."""
    from newsstudy.world import data

    return data.load_world(prepare_ab_world(profile, n_users, days, history_days, log).profile)


def prepare_ab_world(profile: str, n_users: int, days: int, history_days: int, log=print
                     ) -> DataParams:
    """Build the A/B world of ``profile`` unless it is in the cache; its parameters
    (:func:`ab_world_params`): those the profile's own world was built with (read from that
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
    return params


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
