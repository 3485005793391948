"""Tables and figures that describe a world (notebook 01_data)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from newsstudy.world.data import WorldData


def dataset_table(w: WorldData) -> pd.DataFrame:
    """One row per quantity: users, articles, topics, events per domain, cold share, ..."""
    events = w.events
    per_user_truth = w.test_clicks.groupby("user_id").size()
    rows = [
        ("users", len(w.users)),
        ("users: train / val / test", " / ".join(
            str(int((w.users["split"] == s).sum())) for s in ("train", "val", "test"))),
        ("cold users (share)", f"{w.users['is_cold'].mean():.3f}"),
        ("articles", len(w.articles)),
        ("articles in the history index", int(w.articles["in_history_index"].sum())),
        ("articles in the test index", int(w.articles["in_test_index"].sum())),
        ("topics", len(w.topic_keywords)),
        ("history days / test days", f"{w.history_days} / {w.manifest['params']['test_days']}"),
        ("history events", len(events)),
        *[(f"  {d} events", int((events["domain"] == d).sum())) for d in ("search", "browse", "news")],
        ("noise share (labelled)", f"{w.event_labels['is_noise'].mean():.3f}"),
        ("events kept by the cleaner", f"{events['kept'].mean():.3f}"),
        ("held-out clicks", len(w.test_clicks)),
        ("held-out clicks per user (median)", float(per_user_truth.median())),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"]).astype({"value": str})


def signal_mix(w: WorldData) -> pd.DataFrame:
    """Events per domain and noise kind (counts)."""
    frame = w.events[["domain"]].assign(kind=w.event_labels["noise_kind"].astype(str).to_numpy())
    return frame.groupby(["domain", "kind"], observed=True).size().unstack(fill_value=0)


def plot_signal_mix(mix: pd.DataFrame):
    """Stacked bars of events per domain by noise kind."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    shares = mix.div(mix.sum(axis=1), axis=0)
    shares.plot(kind="barh", stacked=True, ax=ax, width=0.7,
                color=sns.color_palette("deep", len(shares.columns)))
    ax.set_xlabel("share of the domain's events")
    ax.set_ylabel("domain")
    ax.set_title("Signal mix per domain (labelled noise kinds)")
    ax.legend(title="kind", bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def plot_events_per_user(w: WorldData):
    """Histogram of history events per user per domain, warm vs cold."""
    counts = (w.events.groupby(["user_id", "domain"], observed=False).size()
              .unstack(fill_value=0).reindex(w.users["user_id"], fill_value=0))
    counts["group"] = np.where(w.users["is_cold"].to_numpy(), "cold", "warm")
    long = counts.melt(id_vars="group", var_name="domain", value_name="events")
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
    for ax, domain in zip(axes, ("search", "browse", "news"), strict=True):
        sns.histplot(long[long["domain"] == domain], x="events", hue="group", ax=ax,
                     element="step", stat="density", common_norm=False, bins=30)
        ax.set_title(f"{domain}")
        ax.set_xlabel("events per user (history window)")
    fig.suptitle("Events per user: cold users see almost no news clicks", y=1.03)
    return fig


def topic_table(w: WorldData, n_keywords: int = 6) -> pd.DataFrame:
    """Topics with their size, followers and leading keywords."""
    sizes = w.articles.groupby("topic").size()
    followers = w.interests.groupby("topic")["user_id"].nunique()
    test_articles = w.articles[w.articles["in_test_index"]].groupby("topic").size()
    return pd.DataFrame({
        "topic": range(len(w.topic_keywords)),
        "articles": [int(sizes.get(t, 0)) for t in range(len(w.topic_keywords))],
        "test-window articles": [int(test_articles.get(t, 0)) for t in range(len(w.topic_keywords))],
        "followers": [int(followers.get(t, 0)) for t in range(len(w.topic_keywords))],
        "keywords": [", ".join(k[:n_keywords]) for k in w.topic_keywords],
    }).sort_values("articles", ascending=False)


def plot_topics(table: pd.DataFrame):
    """Horizontal bars of topic sizes labelled with their keywords."""
    table = table.sort_values("articles")
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(table) + 1))
    labels = [f"{t}: {k[:48]}" for t, k in zip(table["topic"], table["keywords"], strict=True)]
    ax.barh(labels, table["articles"], color=sns.color_palette("deep")[0])
    ax.set_xlabel("articles in the topic")
    ax.set_title("Topics derived from the articles (k-means + class TF-IDF keywords)")
    return fig


def cleaning_table(w: WorldData) -> pd.DataFrame:
    """Precision / recall / F1 of the cleaner and two trivial baselines (held-out users)."""
    report = w.cleaning
    rows = {name: report[key] for name, key in (("cleaning classifier", "classifier"),
                                                ("rule: short or non-letters", "rule_baseline"),
                                                ("flag everything", "flag_everything"))}
    return pd.DataFrame(rows).T.rename_axis("method").reset_index()


def plot_confusion(w: WorldData):
    """The cleaner's confusion matrix on held-out users, and its catch rate per noise kind."""
    confusion = pd.DataFrame(w.cleaning["confusion"]).T.loc[["true clean", "true noise"],
                                                            ["kept", "dropped"]]
    by_kind = pd.Series(w.cleaning["flagged_by_kind"]).rename({"none": "clean (false alarm)"})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    sns.heatmap(confusion, annot=True, fmt="d", cmap="Blues", cbar=False, ax=axes[0])
    axes[0].set_title("Cleaner on held-out users")
    axes[0].set_xlabel("prediction")
    axes[0].set_ylabel("truth")
    by_kind.sort_values().plot(kind="barh", ax=axes[1], color=sns.color_palette("deep")[1])
    axes[1].set_xlim(0, 1)
    axes[1].set_xlabel("share of events dropped")
    axes[1].set_title("Dropped, per labelled kind")
    fig.tight_layout()
    return fig


def user_timeline(w: WorldData, user_id: int, max_events: int = 25) -> dict[str, pd.DataFrame]:
    """One user's story: latent interests, observed signals (with labels), later clicks."""
    interests = w.interests[w.interests["user_id"] == user_id].copy()
    interests["topic keywords"] = [", ".join(w.topic_keywords[t][:4]) for t in interests["topic"]]
    events = w.events[w.events["user_id"] == user_id].merge(w.event_labels, on="event_id")
    events = events.sort_values("day").tail(max_events)
    titles = w.articles.set_index("article_id")["title"]
    clicks = w.test_clicks[w.test_clicks["user_id"] == user_id].copy()
    clicks["title"] = titles.reindex(clicks["article_id"]).to_numpy()
    return {
        "interests": interests[["topic", "weight", "terms", "topic keywords"]],
        "signals": events[["day", "domain", "text", "noise_kind", "kept"]],
        "later_clicks": clicks[["day", "title", "interest_topic"]],
    }


def pick_example_user(w: WorldData, seed: int = 0) -> int:
    """A test user with several interests, some noise and a few later clicks."""
    truth = w.test_clicks.groupby("user_id").size()
    n_int = w.interests.groupby("user_id").size()
    users = w.users[(w.users["split"] == "test") & ~w.users["is_cold"]]["user_id"]
    good = [u for u in users if truth.get(u, 0) >= 4 and n_int.get(u, 0) >= 2]
    pool = good or list(users) or list(w.users["user_id"])
    return int(np.random.default_rng(seed).choice(pool))
