"""The simulator of the cross-domain world: users with latent interests over real news.

Generative story (every choice below is a named constant or a parameter):

1. **Interests.** Each user follows ``k`` topics (``min_interests`` to
   ``max_interests``), drawn with probability proportional to the topic's size to the
   power ``topic_size_exponent`` (big news stories attract more followers), with weights
   from a flat Dirichlet. Within each followed topic the user cares about a few specific
   *terms* (entities, keywords): drawn from the topic's 40 most distinctive terms with
   probability proportional to their class-TF-IDF score.
2. **Where each interest shows.** Every interest has its own propensity over the three
   domains (search, browsing, news), drawn from a Dirichlet around a base mix. So one
   interest may surface mostly as searches, another only as news clicks: each stream is a
   partial view. Cold users almost never click news in the history window
   (``cold_news_factor``) but search and browse as usual.
3. **History events.** A user's activity (events per day) is log-normal around
   ``events_per_day``. Each event is noise with probability ``noise_rate``; otherwise it
   picks an interest by weight, a domain by that interest's propensity, and renders:
   a search query of one or two of the user's terms (sometimes with a generic modifier),
   a web page (outside news) about one of the terms, or a click on a real article of the
   topic published in the last ``freshness_days`` (an article that mentions one of the
   user's terms with probability ``p_term_click``, else any article of the topic;
   weighted by recency and a per-article popularity).
4. **Noise**, labelled by kind: navigational (logins, home pages), malformed (garbled,
   truncated, markup), off-interest (a topic the user does not follow, and trending
   clicks).
5. **Ground truth.** In the following ``test_days`` the user clicks news articles
   first published then (never one clicked before), drawn exactly as history clicks are,
   from the *interest weights at the test window* (not the domain propensities: interests
   that only showed in search still drive news reading), plus a share ``serendipity`` of
   clicks on popular articles of any topic.
6. **Drift.** Interest weights move from the first history day to the test window by a
   log-normal factor (``interest_drift``), linearly in time: history events use the
   weights of their day, held-out clicks the end weights.

Why copying is weak and inference strong, without writing anyone's answer in: a user
follows several topics and a few entities in each; most interest clicks go to articles
about those entities (``p_term_click``); each signal names one or two of them, with
boilerplate (search modifiers, page templates) around, noise mixed in, and old clicked
articles are not the future ones. A list that gathers the entities a user repeats across
many signals, per interest and in proportion to how much of the user's (recent) behaviour
each holds, retrieves the future better than one that repeats the last few signals. The
simulator never sees a query, a model or a reward. The world knobs, with their
real-world grounds, are documented on :class:`WorldConstants`.

Observable and latent data are stored apart: ``events.parquet`` holds only what a
production system would log; ``event_labels.parquet`` (noise kind, latent interest) and
``interests.parquet`` are for training the cleaner and for evaluation only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from newsstudy.world.topics import Topics

DOMAINS = ("search", "browse", "news")
NOISE_KINDS = ("none", "navigational", "malformed", "off_interest")
SPLITS = ("train", "val", "test")

SEARCH_MODIFIERS = ("news", "latest", "update", "what happened", "explained", "today",
                    "2017", "reaction", "analysis", "live")
BROWSE_TEMPLATES = ("{T} - Wikipedia", "{t} : discussion thread - Reddit", "{T} - YouTube",
                    "{T} | Forum", "What is {t}? - Quora", "{T} background and timeline",
                    "{t} opinion blog", "{T} - Podcast episode")
NAVIGATIONAL_SEARCHES = ("facebook", "facebook login", "gmail", "youtube", "amazon",
                         "netflix", "weather", "weather tomorrow", "google maps", "translate",
                         "outlook login", "bank login", "ebay", "craigslist", "instagram",
                         "twitter", "linkedin", "hotmail", "yahoo mail", "spotify")
NAVIGATIONAL_PAGES = ("Facebook - Log In or Sign Up", "Inbox (3) - Gmail", "YouTube",
                      "Amazon.com: Online Shopping", "Netflix", "Google Maps",
                      "Outlook - Sign in", "Online Banking - Sign In", "Instagram",
                      "Twitter. It's what's happening", "LinkedIn: Log In or Sign Up",
                      "Spotify - Web Player", "Yahoo Mail", "eBay - Shop by category")
NAVIGATIONAL_NEWS = ("Home", "Top stories", "Sign in", "Subscribe", "Latest headlines",
                     "Most read", "Newsletter preferences")


@dataclass(frozen=True)
class WorldConstants:
    """Modelling choices of the simulator.

    The fields named in :data:`KNOBS` are the *world knobs*: properties of real behaviour
    that decide how much inferring a user's interests can pay over copying their signals.
    Each is also a parameter of notebook 01 (``DataParams``), and the sensitivity table of
    notebook 02 shows what every conclusion does when it moves. Their real-world grounds:

    - ``p_term_click`` (entity following): the share of a user's interest-driven clicks
      that go to an article naming one of the specific entities they follow (a team, a
      politician, a company) rather than any story of the topic. News readers follow
      entities: most of a sports fan's clicks are on their team. Surface signals name a
      few of those entities at a time, so a list that gathers the entities a user repeats
      across many signals retrieves their later reading better than the last few signals.
    - ``term_pool_size`` (how niche the entities are): a user's entities are drawn from
      their topic's ``term_pool_size`` most distinctive terms. Larger pools mean rarer,
      more specific entities, which only a list that names them retrieves.
    - ``interest_drift`` (drift between the windows): each interest's weight moves by a
      log-normal factor ``exp(interest_drift * N(0, 1))`` from the first history day to the
      test window, linearly in time; interests wax and wane with the news cycle.
    - ``serendipity`` (trending clicks): the share of held-out clicks on popular articles
      of any topic, which no model of the user predicts.
    - ``domain_concentration`` (where an interest shows): concentration of each interest's
      Dirichlet mix over search, browsing and news. Low values make each interest show
      mostly in one stream (some only in search or browsing, never as a news click), so
      no single stream tells the whole story.

    ``min_interests`` / ``max_interests`` (several distinct interests per user) and
    ``noise_rate``, ``cold_share`` and ``events_per_day`` are notebook parameters of their
    own. The other fields are fixed modelling choices.
    """

    # the world knobs: notebook 01's parameters, whose values (and defaults) come from there
    p_term_click: float
    term_pool_size: int
    interest_drift: float
    serendipity: float
    domain_concentration: float
    # fixed modelling choices
    topic_size_exponent: float = 0.5
    activity_sigma: float = 0.6
    domain_base: tuple[float, float, float] = (0.4, 0.25, 0.35)
    cold_news_factor: float = 0.03
    p_two_terms: float = 0.4
    p_modifier: float = 0.3
    freshness_days: int = 7
    recency_halflife_days: float = 2.0
    popularity_sigma: float = 1.0
    test_news_share: float = 0.3
    noise_mix: dict[str, float] = field(
        default_factory=lambda: {"navigational": 0.4, "malformed": 0.25, "off_interest": 0.35}
    )
    malformed_pool_size: int = 4000


KNOBS = ("p_term_click", "term_pool_size", "interest_drift", "serendipity",
         "domain_concentration")
"""The world knobs: fields of :class:`WorldConstants` that notebook 01 takes as parameters."""


@dataclass
class World:
    """A simulated world. Frames share ``user_id`` and ``event_id`` keys.

    users:        user_id, split, is_cold, activity (events/day, latent), n_history_events
    events:       event_id, user_id, day, domain, text, article_id (-1 if not news)
    event_labels: event_id, noise_kind, is_noise, interest_topic (-1 for noise)
    interests:    user_id, slot, topic, weight (at the test window), start_weight (first
                  history day), terms (list of str)  [latent]
    test_clicks:  user_id, day, article_id, interest_topic (-1 = serendipity)
    articles:     article_id, date, day (relative), title, topic, popularity
    """

    users: pd.DataFrame
    events: pd.DataFrame
    event_labels: pd.DataFrame
    interests: pd.DataFrame
    test_clicks: pd.DataFrame
    articles: pd.DataFrame
    constants: dict


@dataclass(frozen=True)
class Calendar:
    """Simulated days mapped onto the corpus's dates.

    Day 0 is the first history day; days ``history_days .. history_days + test_days - 1``
    are the test window, which ends on the corpus's last date.
    """

    history_days: int
    test_days: int
    end_date: pd.Timestamp

    @property
    def n_days(self) -> int:
        """History and test days together."""
        return self.history_days + self.test_days

    @property
    def start_date(self) -> pd.Timestamp:
        """Calendar date of day 0."""
        return self.end_date - pd.Timedelta(days=self.n_days - 1)

    def day_of(self, dates: pd.Series) -> np.ndarray:
        """Relative day index of each date (negative before the history window)."""
        return ((pd.to_datetime(dates) - self.start_date).dt.days).to_numpy(np.int64)


def simulate_world(articles: pd.DataFrame, topics: Topics, *, n_users: int, history_days: int,
                   test_days: int, events_per_day: float, noise_rate: float, cold_share: float,
                   min_interests: int, max_interests: int, terms_per_interest: int,
                   val_share: float, test_share: float, seed: int,
                   constants: WorldConstants) -> World:
    """Simulate users, their cross-domain history and their held-out news clicks, with the
    simulator's ``constants`` (the world knobs among them: notebook 01's values)."""
    c = constants
    rng = np.random.default_rng(seed)
    calendar = Calendar(history_days, test_days, pd.Timestamp(articles["date"].max()))
    arts = _article_table(articles, topics, calendar, c, rng)
    pools = _DailyPools(arts, calendar.n_days, c)

    users, slot_topic, slot_weight, slot_terms, propensity = _draw_users(
        n_users, topics, c, rng, min_interests=min_interests, max_interests=max_interests,
        terms_per_interest=terms_per_interest, events_per_day=events_per_day,
        cold_share=cold_share, val_share=val_share, test_share=test_share)
    end_weight = _drifted_weights(slot_weight, c.interest_drift, rng)
    horizon = history_days + test_days / 2
    events, labels = _history_events(users, slot_topic, (slot_weight, end_weight, horizon),
                                     slot_terms, propensity, topics, arts, pools, history_days,
                                     noise_rate, c, rng)
    users["n_history_events"] = np.bincount(events["user_id"], minlength=n_users)
    # The future is news that did not exist yet: held-out clicks go to articles first
    # published in the test window, and never to one the user clicked before.
    test_pools = _DailyPools(arts, calendar.n_days, c, published_from=history_days)
    test_clicks = _test_clicks(users, slot_topic, end_weight, slot_terms, topics, arts,
                               test_pools, history_days, test_days, c, rng)
    seen = events.loc[events["article_id"] >= 0, ["user_id", "article_id"]].drop_duplicates()
    test_clicks = (test_clicks.merge(seen, on=["user_id", "article_id"], how="left",
                                     indicator=True)
                   .query("_merge == 'left_only'").drop(columns="_merge").reset_index(drop=True))
    interests = _interest_table(slot_topic, end_weight, slot_weight, slot_terms, topics)
    return World(users, events, labels, interests, test_clicks, arts, asdict(c))


# --------------------------------------------------------------------------- articles

def _article_table(articles: pd.DataFrame, topics: Topics, calendar: Calendar,
                   c: WorldConstants, rng: np.random.Generator) -> pd.DataFrame:
    frame = articles[["article_id", "date", "title"]].copy()
    frame["day"] = calendar.day_of(frame["date"])
    frame["topic"] = topics.labels
    frame["popularity"] = rng.lognormal(0.0, c.popularity_sigma, len(frame))
    return frame.reset_index(drop=True)


class _DailyPools:
    """Per simulated day, the sampling weight of every article (0: not on offer)."""

    def __init__(self, arts: pd.DataFrame, n_days: int, c: WorldConstants,
                 published_from: int | None = None):
        age = np.arange(n_days)[:, None] - arts["day"].to_numpy()[None, :]
        fresh = (age >= 0) & (age < c.freshness_days)
        if published_from is not None:
            fresh &= arts["day"].to_numpy()[None, :] >= published_from
        recency = np.exp2(-np.clip(age, 0, None) / c.recency_halflife_days)
        self.weights = np.where(fresh, recency * arts["popularity"].to_numpy()[None, :], 0.0)
        self.topic = arts["topic"].to_numpy()

    def candidates(self, day: int, topic: int | None = None,
                   among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Article row indices on offer on ``day`` (optionally of a topic, among rows)."""
        weights = self.weights[day]
        rows = np.flatnonzero(weights > 0) if among is None else among[weights[among] > 0]
        if topic is not None:
            rows = rows[self.topic[rows] == topic]
        return rows, weights[rows]


def _sample_rows(rng: np.random.Generator, rows: np.ndarray, weights: np.ndarray,
                 size: int) -> np.ndarray:
    return rng.choice(rows, size=size, p=weights / weights.sum())


# --------------------------------------------------------------------------- users

def _draw_users(n_users: int, topics: Topics, c: WorldConstants, rng: np.random.Generator, *,
                min_interests: int, max_interests: int, terms_per_interest: int,
                events_per_day: float, cold_share: float, val_share: float,
                test_share: float):
    n_topics = topics.n_topics
    topic_prob = topics.sizes().astype(float) ** c.topic_size_exponent
    topic_prob /= topic_prob.sum()
    n_interests = rng.integers(min_interests, max_interests + 1, n_users)
    # Topics without replacement per user: Gumbel top-k over log-probabilities.
    keys = np.log(topic_prob)[None, :] + rng.gumbel(size=(n_users, n_topics))
    slot_topic = np.argsort(-keys, axis=1)[:, :max_interests]
    active = np.arange(max_interests)[None, :] < n_interests[:, None]
    slot_topic = np.where(active, slot_topic, -1)
    raw_weight = np.where(active, rng.gamma(1.0, size=(n_users, max_interests)), 0.0)
    slot_weight = raw_weight / raw_weight.sum(axis=1, keepdims=True)

    slot_terms = _draw_terms(slot_topic, topics, terms_per_interest, c, rng)
    alpha = np.asarray(c.domain_base) * c.domain_concentration * len(DOMAINS)
    propensity = rng.dirichlet(alpha, size=(n_users, max_interests))
    is_cold = rng.random(n_users) < cold_share
    propensity[is_cold, :, 2] *= c.cold_news_factor
    propensity /= propensity.sum(axis=2, keepdims=True)

    mu = np.log(events_per_day) - c.activity_sigma**2 / 2
    activity = rng.lognormal(mu, c.activity_sigma, n_users)
    split = rng.choice(np.array(SPLITS), size=n_users,
                       p=[1 - val_share - test_share, val_share, test_share])
    users = pd.DataFrame({"user_id": np.arange(n_users), "split": split,
                          "is_cold": is_cold, "activity": activity})
    return users, slot_topic, slot_weight, slot_terms, propensity


def _draw_terms(slot_topic: np.ndarray, topics: Topics, terms_per_interest: int,
                c: WorldConstants, rng: np.random.Generator) -> np.ndarray:
    """Vocabulary ids of each user's specific terms per interest slot, -1 where unused."""
    pool_size = max(c.term_pool_size, terms_per_interest)
    pool = np.argsort(-topics.term_scores, axis=1)[:, :pool_size]
    pool_scores = np.take_along_axis(topics.term_scores, pool, axis=1)
    log_prob = np.log(pool_scores / pool_scores.sum(axis=1, keepdims=True) + 1e-300)
    n_users, n_slots = slot_topic.shape
    safe_topic = np.maximum(slot_topic, 0)
    keys = log_prob[safe_topic] + rng.gumbel(size=(n_users, n_slots, pool_size))
    picks = np.argsort(-keys, axis=2)[:, :, :terms_per_interest]
    terms = np.take_along_axis(pool[safe_topic], picks, axis=2)
    return np.where(slot_topic[:, :, None] >= 0, terms, -1)


def _drifted_weights(weight: np.ndarray, drift: float, rng: np.random.Generator) -> np.ndarray:
    """Interest weights at the test window: each weight times exp(drift * N(0, 1)), renormalised."""
    if drift <= 0:
        return weight
    moved = weight * np.exp(drift * rng.standard_normal(weight.shape))
    return moved / moved.sum(axis=1, keepdims=True)


def _interest_table(slot_topic, weight, start_weight, slot_terms, topics: Topics) -> pd.DataFrame:
    user, slot = np.nonzero(slot_topic >= 0)
    vocab = topics.vocabulary
    return pd.DataFrame({
        "user_id": user, "slot": slot, "topic": slot_topic[user, slot],
        "weight": weight[user, slot], "start_weight": start_weight[user, slot],
        "terms": [list(vocab[t]) for t in slot_terms[user, slot]],
    })


# --------------------------------------------------------------------------- events

def _pick_slot(rng: np.random.Generator, slot_weight: np.ndarray, user: np.ndarray,
               drift: tuple[np.ndarray, float] | None = None, day: np.ndarray | None = None
               ) -> np.ndarray:
    """Interest slot per event, by the user's weights (drifting towards ``drift``'s end weights
    linearly in ``day`` up to its horizon, when given)."""
    weights = slot_weight[user]
    if drift is not None:
        end, horizon = drift
        f = ((day + 0.5) / horizon)[:, None]
        weights = (1 - f) * weights + f * end[user]
    cumulative = np.cumsum(weights, axis=1)
    draw = rng.random(len(user))[:, None] * cumulative[:, -1:]
    return np.minimum((draw > cumulative).sum(axis=1), slot_weight.shape[1] - 1)


def _history_events(users, slot_topic, weights, slot_terms, propensity, topics, arts,
                    pools, history_days, noise_rate, c, rng):
    slot_weight, end_weight, horizon = weights
    n_users = len(users)
    counts = rng.poisson(users["activity"].to_numpy() * history_days)
    user = np.repeat(np.arange(n_users), counts)
    n = len(user)
    day = rng.integers(0, history_days, n)
    is_noise = rng.random(n) < noise_rate
    slot = _pick_slot(rng, slot_weight, user, (end_weight, horizon), day)
    cumulative = np.cumsum(propensity[user, slot], axis=1)
    domain = (rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, 2)
    noise_domain = _noise_domains(rng, users["is_cold"].to_numpy()[user], c)
    domain = np.where(is_noise, noise_domain, domain)
    kinds = list(c.noise_mix)
    noise_kind = np.where(
        is_noise, 1 + rng.choice(len(kinds), size=n, p=np.array(list(c.noise_mix.values()))), 0)
    kind_names = np.array(("none", *kinds))

    text = np.empty(n, dtype=object)
    article = np.full(n, -1, dtype=np.int64)
    interest_topic = np.where(is_noise, -1, slot_topic[user, slot])
    vocab = topics.vocabulary.astype(object)

    # On-interest searches and pages name one or two of the user's terms.
    clean = ~is_noise
    term_a, term_b = _two_terms(rng, slot_terms[user, slot])
    for d, renderer in ((0, _render_searches), (1, _render_pages)):
        mask = clean & (domain == d)
        text[mask] = renderer(rng, vocab[term_a[mask]], vocab[term_b[mask]], c)

    # On-interest news clicks on real, fresh articles of the topic.
    mask = clean & (domain == 2)
    article[mask] = _sample_clicks(rng, day[mask], interest_topic[mask], term_a[mask],
                                   topics, pools, c)

    # Off-interest events: a topic the user does not follow.
    off = noise_kind == 1 + kinds.index("off_interest")
    off_topic = _other_topic(rng, slot_topic[user[off]], topics.n_topics)
    pool_terms = np.argsort(-topics.term_scores, axis=1)[:, :c.term_pool_size]
    off_a = pool_terms[off_topic, rng.integers(0, c.term_pool_size, off.sum())]
    off_b = pool_terms[off_topic, rng.integers(0, c.term_pool_size, off.sum())]
    for d, renderer in ((0, _render_searches), (1, _render_pages)):
        sub = domain[off] == d
        idx = np.flatnonzero(off)[sub]
        text[idx] = renderer(rng, vocab[off_a[sub]], vocab[off_b[sub]], c)
    idx = np.flatnonzero(off)[domain[off] == 2]
    article[idx] = _sample_trending(rng, day[idx], pools)

    # Navigational and malformed events.
    nav = noise_kind == 1 + kinds.index("navigational")
    for d, choices in enumerate((NAVIGATIONAL_SEARCHES, NAVIGATIONAL_PAGES, NAVIGATIONAL_NEWS)):
        idx = np.flatnonzero(nav & (domain == d))
        text[idx] = np.asarray(choices, dtype=object)[rng.integers(0, len(choices), len(idx))]
    bad = np.flatnonzero(noise_kind == 1 + kinds.index("malformed"))
    text[bad] = _malformed_texts(rng, arts["title"].to_numpy(), c.malformed_pool_size, len(bad))

    # News clicks show the article's title.
    has_article = article >= 0
    text[has_article] = arts["title"].to_numpy()[article[has_article]]
    dropped = (domain == 2) & ~has_article & (noise_kind != 1 + kinds.index("navigational")) \
        & (noise_kind != 1 + kinds.index("malformed"))
    keep = ~dropped
    order = np.lexsort((rng.random(keep.sum()), day[keep], user[keep]))
    rows = np.flatnonzero(keep)[order]
    article_id = np.where(article[rows] >= 0, arts["article_id"].to_numpy()[article[rows]], -1)
    events = pd.DataFrame({
        "event_id": np.arange(len(rows)), "user_id": user[rows], "day": day[rows],
        "domain": pd.Categorical.from_codes(domain[rows], DOMAINS),
        "text": text[rows].astype(str), "article_id": article_id,
    })
    labels = pd.DataFrame({
        "event_id": np.arange(len(rows)),
        "noise_kind": pd.Categorical(kind_names[noise_kind[rows]], categories=NOISE_KINDS),
        "is_noise": is_noise[rows], "interest_topic": interest_topic[rows],
    })
    return events, labels


def _noise_domains(rng, is_cold: np.ndarray, c: WorldConstants) -> np.ndarray:
    """Domain of each noise event: the base mix, with news as rare for cold users as usual."""
    warm = np.asarray(c.domain_base, dtype=float)
    cold = warm * np.array([1.0, 1.0, c.cold_news_factor])
    draw = rng.random(len(is_cold))[:, None]
    cumulative = np.where(is_cold[:, None], np.cumsum(cold / cold.sum()),
                          np.cumsum(warm / warm.sum()))
    return (draw > cumulative).sum(axis=1).clip(0, 2)


def _two_terms(rng: np.random.Generator, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two different terms per row from each row's term list (the same if only one)."""
    n, width = terms.shape
    first = rng.integers(0, width, n)
    second = (first + rng.integers(1, max(width, 2), n)) % width
    return terms[np.arange(n), first], terms[np.arange(n), second]


def _render_searches(rng, term_a, term_b, c: WorldConstants) -> np.ndarray:
    n = len(term_a)
    out = term_a.copy()
    two = rng.random(n) < c.p_two_terms
    out[two] = term_a[two] + " " + term_b[two]
    modified = rng.random(n) < c.p_modifier
    modifiers = np.asarray(SEARCH_MODIFIERS, dtype=object)[rng.integers(0, len(SEARCH_MODIFIERS), n)]
    out[modified] = out[modified] + " " + modifiers[modified]
    return out


def _render_pages(rng, term_a, term_b, c: WorldConstants) -> np.ndarray:
    n = len(term_a)
    two = rng.random(n) < c.p_two_terms
    subject = np.where(two, term_a + " " + term_b, term_a)
    titled = np.array([s.title() for s in subject], dtype=object)
    template = rng.integers(0, len(BROWSE_TEMPLATES), n)
    out = np.empty(n, dtype=object)
    for i, pattern in enumerate(BROWSE_TEMPLATES):
        mask = template == i
        head, _, tail = pattern.partition("{T}" if "{T}" in pattern else "{t}")
        source = titled if "{T}" in pattern else subject
        out[mask] = head + source[mask] + tail
    return out


def _other_topic(rng, followed: np.ndarray, n_topics: int) -> np.ndarray:
    """A random topic per row that the row's user does not follow."""
    choice = rng.integers(0, n_topics, len(followed))
    for _ in range(50):
        clash = (followed == choice[:, None]).any(axis=1)
        if not clash.any():
            break
        choice[clash] = rng.integers(0, n_topics, clash.sum())
    return choice


def _malformed_texts(rng, titles: np.ndarray, pool_size: int, size: int) -> np.ndarray:
    """Garbled, truncated, markup or random-character strings."""
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789%&#@!?/=_-"))
    pool = []
    for i in range(pool_size):
        title = titles[rng.integers(0, len(titles))]
        kind = i % 6
        if kind == 0:
            pool.append("".join(rng.choice(alphabet, rng.integers(3, 25))))
        elif kind == 1:
            pool.append(title.encode("utf-8").decode("latin-1")[: rng.integers(5, 30)] + "Ã©Â")
        elif kind == 2:
            pool.append(title[: rng.integers(1, 4)])
        elif kind == 3:
            pool.append(f'<div class="{title.split()[0].lower()}"><a href=')
        elif kind == 4:
            pool.append(f"http://t.co/{''.join(rng.choice(alphabet[:36], 8))}?ref=")
        else:
            pool.append(str(rng.choice(alphabet[:26])) * int(rng.integers(4, 12)))
    return np.asarray(pool, dtype=object)[rng.integers(0, pool_size, size)]


def _sample_clicks(rng, day, topic, term, topics: Topics, pools: _DailyPools,
                   c: WorldConstants) -> np.ndarray:
    """Article rows clicked for interest events; -1 where nothing fits on that day."""
    out = np.full(len(day), -1, dtype=np.int64)
    by_term = rng.random(len(day)) < c.p_term_click
    doc_terms = topics.doc_terms.tocsc()
    frame = pd.DataFrame({"day": day, "topic": topic, "term": np.where(by_term, term, -1)})
    for (d, t, v), idx in frame.groupby(["day", "topic", "term"]).indices.items():
        rows, weights = np.empty(0, np.int64), np.empty(0)
        if v >= 0:
            containing = doc_terms.indices[doc_terms.indptr[v]:doc_terms.indptr[v + 1]]
            rows, weights = pools.candidates(d, topic=t, among=containing)
        if len(rows) == 0:
            rows, weights = pools.candidates(d, topic=t)
        if len(rows):
            out[idx] = _sample_rows(rng, rows, weights, len(idx))
    return out


def _sample_trending(rng, day: np.ndarray, pools: _DailyPools) -> np.ndarray:
    """Popular fresh articles of any topic (trending clicks)."""
    out = np.full(len(day), -1, dtype=np.int64)
    for d in np.unique(day):
        idx = np.flatnonzero(day == d)
        rows, weights = pools.candidates(int(d))
        if len(rows):
            out[idx] = _sample_rows(rng, rows, weights, len(idx))
    return out


def _test_clicks(users, slot_topic, slot_weight, slot_terms, topics, arts, pools,
                 history_days, test_days, c, rng) -> pd.DataFrame:
    n_users = len(users)
    rate = users["activity"].to_numpy() * c.test_news_share * test_days
    counts = np.maximum(rng.poisson(rate), 1)
    user = np.repeat(np.arange(n_users), counts)
    day = rng.integers(history_days, history_days + test_days, len(user))
    slot = _pick_slot(rng, slot_weight, user)
    topic = slot_topic[user, slot]
    term, _ = _two_terms(rng, slot_terms[user, slot])
    serendipitous = rng.random(len(user)) < c.serendipity
    article = np.full(len(user), -1, dtype=np.int64)
    article[~serendipitous] = _sample_clicks(rng, day[~serendipitous], topic[~serendipitous],
                                             term[~serendipitous], topics, pools, c)
    article[serendipitous] = _sample_trending(rng, day[serendipitous], pools)
    keep = article >= 0
    frame = pd.DataFrame({
        "user_id": user[keep], "day": day[keep],
        "article_id": arts["article_id"].to_numpy()[article[keep]],
        "interest_topic": np.where(serendipitous[keep], -1, topic[keep]),
    })
    frame = frame.sort_values(["user_id", "day"]).drop_duplicates(["user_id", "article_id"])
    return frame.reset_index(drop=True)
