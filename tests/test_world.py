"""The simulated world: determinism, the parameters it promises, and the latent/observable split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from newsstudy import world
from newsstudy.world import cleaning, corpus, topics


@pytest.fixture(scope="module")
def articles() -> pd.DataFrame:
    return corpus.load_articles()


@pytest.fixture(scope="module")
def topic_model(articles) -> topics.Topics:
    # Random embeddings keep this fast; topics only need some clustering of the articles.
    vectors = np.random.default_rng(0).normal(size=(len(articles), 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return topics.build_topics(articles, vectors, n_topics=12, seed=0)


def knobs(**changes) -> world.WorldConstants:
    """The simulator's constants with notebook 01's default world knobs, some changed."""
    from newsstudy.schemas import DataParams

    values = {knob: DataParams.model_fields[knob].default for knob in world.KNOBS}
    return world.WorldConstants(**{**values, **changes})


def simulate(articles, topic_model, **overrides) -> world.World:
    settings = dict(n_users=600, history_days=21, test_days=7, events_per_day=3.0,
                    noise_rate=0.2, cold_share=0.25, min_interests=2, max_interests=4,
                    terms_per_interest=4, val_share=0.1, test_share=0.2, seed=0,
                    constants=knobs())
    settings.update(overrides)
    return world.simulate_world(articles, topic_model, **settings)


@pytest.fixture(scope="module")
def sim(articles, topic_model) -> world.World:
    return simulate(articles, topic_model)


FRAMES = ("users", "events", "event_labels", "interests", "test_clicks", "articles")


def test_same_seed_gives_identical_world(articles, topic_model, sim):
    again = simulate(articles, topic_model)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(sim, name), getattr(again, name))


def test_other_seed_differs(articles, topic_model, sim):
    other = simulate(articles, topic_model, seed=1)
    assert not sim.events["text"].equals(other.events["text"])
    assert not sim.test_clicks.equals(other.test_clicks)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5])
def test_noise_share_matches_parameter(articles, topic_model, rate):
    sim = simulate(articles, topic_model, noise_rate=rate)
    assert sim.event_labels["is_noise"].mean() == pytest.approx(rate, abs=0.02)


def test_cold_users_rarely_click_news_but_search(sim):
    per_user = sim.events.groupby(["user_id", "domain"], observed=False).size().unstack(fill_value=0)
    cold = sim.users.set_index("user_id")["is_cold"].reindex(per_user.index)
    assert per_user.loc[cold, "news"].mean() < 0.25 * per_user.loc[~cold, "news"].mean()
    assert per_user.loc[cold, "search"].mean() > 0.5 * per_user.loc[~cold, "search"].mean()
    assert sim.users["is_cold"].mean() == pytest.approx(0.25, abs=0.05)


def test_interest_counts_and_weights(sim):
    per_user = sim.interests.groupby("user_id")
    assert per_user.size().between(2, 4).all()
    np.testing.assert_allclose(per_user["weight"].sum(), 1.0, atol=1e-9)
    assert sim.interests["terms"].map(len).eq(4).all()


def test_observable_events_carry_no_labels(sim):
    assert set(sim.events.columns) == {"event_id", "user_id", "day", "domain", "text", "article_id"}
    assert {"noise_kind", "is_noise", "interest_topic"} <= set(sim.event_labels.columns)
    assert (sim.events["event_id"] == sim.event_labels["event_id"]).all()


def test_time_windows(sim):
    assert sim.events["day"].between(0, 20).all()
    assert sim.test_clicks["day"].between(21, 27).all()
    # Held-out clicks are on articles on offer in the test window, not the history's.
    days = sim.articles.set_index("article_id")["day"]
    clicked_day = days.reindex(sim.test_clicks["article_id"]).to_numpy()
    assert (clicked_day >= 21).all() and (clicked_day <= 27).all()
    assert not sim.test_clicks.duplicated(["user_id", "article_id"]).any()
    seen = sim.events[sim.events["article_id"] >= 0]
    assert not sim.test_clicks.merge(seen, on=["user_id", "article_id"]).shape[0]


def test_news_clicks_follow_interest_topics(sim):
    ev = sim.events.merge(sim.event_labels, on="event_id")
    clean_news = ev[(ev["domain"] == "news") & ~ev["is_noise"]]
    topic_of = sim.articles.set_index("article_id")["topic"]
    assert (topic_of.reindex(clean_news["article_id"]).to_numpy()
            == clean_news["interest_topic"].to_numpy()).mean() > 0.99


def test_surface_signals_are_partial(sim):
    """Not every latent term surfaces in the user's searches and pages."""
    ev = sim.events.merge(sim.event_labels, on="event_id")
    text = ev[~ev["is_noise"] & (ev["domain"] != "news")].groupby("user_id")["text"].apply(
        lambda s: " ".join(s).lower())
    seen = [np.mean([t in text.get(u, "") for t in terms])
            for u, terms in zip(sim.interests["user_id"], sim.interests["terms"], strict=True)]
    assert 0.2 < np.mean(seen) < 0.95


def test_cleaner_beats_trivial_baselines(sim):
    split = sim.users["split"].to_numpy()[sim.events["user_id"]]
    train, test = split == "train", split != "train"
    labels = sim.event_labels["is_noise"].to_numpy()
    model = cleaning.fit_cleaner(sim.events[train], labels[train], seed=0)
    ours = cleaning.cleaning_scores(labels[test], ~model.keep(sim.events[test]))
    everything = cleaning.cleaning_scores(labels[test], np.ones(test.sum(), bool))
    rule = cleaning.cleaning_scores(labels[test], cleaning.rule_baseline(sim.events[test]))
    assert ours["f1"] > everything["f1"] + 0.2
    assert ours["f1"] > rule["f1"] + 0.2
    assert ours["precision"] > 0.8


def test_the_cleaner_by_chunks_of_users_equals_the_cleaner_on_everything(sim, monkeypatch):
    """Chunking bounds memory and changes no value: fit and noise probabilities agree
    bit for bit with one chunk holding every user (and the events in shuffled order)."""
    split = sim.users["split"].to_numpy()[sim.events["user_id"]]
    train = split == "train"
    labels = sim.event_labels["is_noise"].to_numpy()
    shuffled = sim.events.sample(frac=1.0, random_state=3)
    results = []
    for chunk in (10**9, 7):
        monkeypatch.setattr(cleaning, "CHUNK_USERS", chunk)
        model = cleaning.fit_cleaner(sim.events[train], labels[train], seed=0, max_events=2000)
        results.append((model.classifier.coef_.copy(), model.noise_probability(shuffled)))
    assert len(cleaning.user_chunks(shuffled)) > 5
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_noise_probability_is_the_classifier_on_the_design_matrix(sim):
    """The split decision (n-grams once per distinct text, dense columns per chunk of
    users) is ``predict_proba`` of the full design matrix, bit for bit."""
    split = sim.users["split"].to_numpy()[sim.events["user_id"]]
    train = split == "train"
    model = cleaning.fit_cleaner(sim.events[train], sim.event_labels["is_noise"].to_numpy()[train],
                                 seed=0, max_events=2000)
    expected = model.classifier.predict_proba(
        cleaning.features(sim.events, model.vectorizer()))[:, 1]
    assert 0.0 < expected.min() < 0.5 < expected.max() < 1.0
    np.testing.assert_array_equal(model.noise_probability(sim.events), expected)


def test_features_of_distinct_texts_equal_the_features_of_every_row(sim):
    """Each distinct text is featurised once and gathered: the design matrix is the one
    built row by row, array for array (values, column order and row pointers)."""
    events = sim.events
    assert events["text"].nunique() < len(events)  # repeated texts, so the gather matters
    vectorizer = cleaning.CleaningModel(None).vectorizer()
    design = cleaning.features(events, vectorizer)
    text = events["text"].astype(str)
    length = text.str.len().to_numpy(dtype=float)
    letters = text.str.count(r"[A-Za-z ]").to_numpy(dtype=float)
    words = text.map(lambda t: sorted(cleaning.content_words(t)))
    exploded = pd.DataFrame({"row": np.arange(len(events)), "user": events["user_id"].to_numpy(),
                             "word": words.to_numpy()}).explode("word").dropna(subset=["word"])
    support = (exploded.groupby(["user", "word"])["row"].transform("size") > 1).groupby(
        exploded["row"]).mean()
    context = np.zeros(len(events))
    context[support.index.to_numpy(dtype=np.int64)] = support.to_numpy()
    domain = pd.Categorical(events["domain"], categories=cleaning.DOMAINS).codes
    dense = np.column_stack([np.eye(len(cleaning.DOMAINS))[domain], np.log1p(length) / 5.0,
                             letters / np.maximum(length, 1.0), (length < 4).astype(float),
                             context]) * 3.0
    expected = sparse.hstack([vectorizer.transform(text), sparse.csr_matrix(dense)]).tocsr()
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(design, part), getattr(expected, part))


def test_context_support_by_hand():
    events = pd.DataFrame({"user_id": [0, 0, 0, 1], "text": [
        "brexit vote", "brexit talks", "cooking pasta", "brexit"]})
    np.testing.assert_allclose(cleaning.context_support(events), [0.5, 0.5, 0.0, 0.0])


# --- world knobs ---------------------------------------------------------------------------

def test_knobs_are_data_params_and_the_simulator_holds_no_default_of_its_own():
    import dataclasses

    from newsstudy.schemas import DataParams

    fields = {f.name: f for f in dataclasses.fields(world.WorldConstants)}
    for knob in world.KNOBS:
        assert "World knob" in DataParams.model_fields[knob].description
        assert fields[knob].default is dataclasses.MISSING, knob


def test_no_drift_keeps_weights_and_drift_moves_them(articles, topic_model):
    still = simulate(articles, topic_model,
                     constants=knobs(interest_drift=0.0)).interests
    np.testing.assert_allclose(still["weight"], still["start_weight"])
    moved = simulate(articles, topic_model,
                     constants=knobs(interest_drift=1.0)).interests
    assert np.abs(moved["weight"] - moved["start_weight"]).mean() > 0.05
    for frame in (still, moved):
        np.testing.assert_allclose(frame.groupby("user_id")["weight"].sum(), 1.0)


def test_drift_shows_in_late_history_more_than_early(articles, topic_model):
    """Events late in the history lean to the test-window weights: the slot that gains
    the most weight holds a larger share of late events than of early ones."""
    sim = simulate(articles, topic_model, n_users=1500,
                   constants=knobs(interest_drift=1.5))
    gain = sim.interests.assign(gain=lambda f: f["weight"] - f["start_weight"])
    rising = gain.loc[gain.groupby("user_id")["gain"].idxmax(), ["user_id", "topic"]]
    events = sim.events.merge(sim.event_labels, on="event_id")
    events = events[~events["is_noise"]].merge(rising, on="user_id")
    on_rising = events["interest_topic"] == events["topic"]
    early = on_rising[events["day"] < 7].mean()
    late = on_rising[events["day"] >= 14].mean()
    assert late > early + 0.03


def test_entity_following_sends_clicks_to_the_users_terms(articles, topic_model):
    """With p_term_click near 1, far more held-out interest clicks name a user's term."""
    doc_terms = topic_model.doc_terms.tocsr()
    index = {t: i for i, t in enumerate(topic_model.vocabulary)}
    row_of = {int(a): i for i, a in enumerate(articles["article_id"])}

    def share_naming_terms(sim) -> float:
        terms = sim.interests.groupby("user_id")["terms"].apply(
            lambda t: {index[w] for ts in t for w in ts})
        clicks = sim.test_clicks[sim.test_clicks["interest_topic"] >= 0]
        hits = [bool(terms[u] & set(doc_terms[row_of[int(a)]].indices))
                for u, a in zip(clicks["user_id"], clicks["article_id"], strict=True)]
        return float(np.mean(hits))

    low = simulate(articles, topic_model, constants=knobs(p_term_click=0.0))
    high = simulate(articles, topic_model, constants=knobs(p_term_click=1.0))
    assert share_naming_terms(high) > share_naming_terms(low) + 0.1
