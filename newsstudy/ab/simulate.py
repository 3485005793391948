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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from newsstudy.ab.feed import RecallPath, category_ranks, mix, ranks_in_order, top_ranks
from newsstudy.ab.market import Market
from newsstudy.ab.settings import ClickModel, FeedSettings, ReturnModel
from newsstudy.ab.stats import MEAN, RATIO, Metric

CONTROL_PATHS = ("popular", "category", "coclick")
TREATMENT_PATH = "query"
ARMS = ("control", "treatment")


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
