# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python (newsstudy)
#     language: python
#     name: newsstudy
# ---

# %% [markdown]
# # 01 · The world: real news, simulated cross-domain users
#
# The paper learns from production logs (web browsing, searches and news clicks of real
# users) that are not public. This notebook builds the world every later notebook runs in:
# a **real corpus** of ~3,800 news articles (Dec 2016 to Mar 2017), **topics** derived from
# the articles themselves, and **simulated users** whose latent interests emit
# cross-domain signals over a history window and news clicks in a later, held-out window
# (the ground truth). It also trains the paper's **data-cleaning** step: a light
# classifier that drops malformed and irrelevant events.
#
# The design goal, checked in notebook 02: the observed signals are a partial, noisy view
# of the interests, so copying them is a weak strategy and inferring the interest behind
# them a strong one. The generative story is documented in `newsstudy/world/simulate.py`.

# %% tags=["parameters"]
from typing import Optional

# Values left None come from params/<profile>/ (`newsstudy list 01_data` shows each
# value, its file and its meaning). A value set here, in `overrides` or with `-p` replaces
# the profile's, and the run then writes to a variant, reports/<profile>+<name>/.
profile: str = "default"  # the profile whose values a parameter left None takes
variant: Optional[str] = None  # the variant's name (None: named after the changed values)
seed: Optional[int] = None  # Seed for every random choice
n_users: Optional[int] = None  # Number of simulated users
history_days: Optional[int] = None  # Days of observed behaviour per user
test_days: Optional[int] = None  # Days of held-out news clicks (ground truth)
noise_rate: Optional[float] = None  # Share of observed events that are noise (labelled)
max_interests: Optional[int] = None  # Most latent interests per user
interest_drift: Optional[float] = None  # World knob: drift of interest weights over time
serendipity: Optional[float] = None  # World knob: share of held-out clicks on trending articles
overrides: dict = {}  # any other parameter by name, e.g. {"events_per_day": ...}

# %%
from newsstudy.params import from_namespace

P = from_namespace("01_data", globals())

# %%
from IPython.display import Markdown, display

from newsstudy import saving, world
from newsstudy.world import data
from newsstudy.world import tables as world_tables
from newsstudy.world.results import DataResults

saving.set_style()
data.build_world(P)
W = data.load_world(P.profile)

# %% [markdown]
# ## The dataset

# %%
dataset = world_tables.dataset_table(W)
saving.save_table(dataset, P.profile, "01_dataset")
dataset

# %% [markdown]
# ## Signals per domain
#
# Each domain mixes interest-driven events with labelled noise: navigational (logins, home
# pages), malformed (garbled, truncated, markup) and off-interest (topics the user does not
# follow, trending clicks).

# %%
mix = world_tables.signal_mix(W)
saving.save_table(mix.reset_index(), P.profile, "01_signal_mix")
saving.save_figure(world_tables.plot_signal_mix(mix), P.profile, "01_signal_mix")

# %%
saving.save_figure(world_tables.plot_events_per_user(W), P.profile, "01_events_per_user")

# %% [markdown]
# ## Topics, from the articles
#
# Articles are clustered by their all-MiniLM-L6-v2 embeddings; each cluster is named by its
# most distinctive terms (class-based TF-IDF). Users follow a few of these topics, and a few
# specific terms within each.

# %%
topics = world_tables.topic_table(W)
saving.save_table(topics, P.profile, "01_topics")
saving.save_figure(world_tables.plot_topics(topics), P.profile, "01_topics")
topics.head(12)

# %% [markdown]
# ## Cleaning
#
# A logistic regression over character n-grams, shape features and how well the event fits
# the user's other behaviour; trained on training users' labelled events, scored on test
# users. Two trivial cleaners are the baselines it must beat.

# %%
cleaning_scores = world_tables.cleaning_table(W)
saving.save_table(cleaning_scores, P.profile, "01_cleaning")
saving.save_figure(world_tables.plot_confusion(W), P.profile, "01_cleaning_confusion")
cleaning_scores

# %% [markdown]
# ## One user, from signals to later clicks
#
# The latent interests (never shown to a policy or a reward), the last observed signals, and
# the news the user clicks in the held-out window.

# %%
example_user = world_tables.pick_example_user(W, P.seed)
story = world_tables.user_timeline(W, example_user)
for title, frame in story.items():
    display(Markdown(f"**{title.replace('_', ' ')}** (user {example_user})"))
    display(frame)

# %% [markdown]
# ## Key numbers

# %%
results = DataResults(
    profile=P.profile,
    world_hash=W.manifest["world_hash"],
    n_users=len(W.users),
    n_articles=len(W.articles),
    n_topics=len(W.topic_keywords),
    n_events=len(W.events),
    events_per_domain=W.events["domain"].value_counts().to_dict(),
    noise_share=W.event_labels["is_noise"].mean(),
    cold_share=W.users["is_cold"].mean(),
    n_test_clicks=len(W.test_clicks),
    n_test_users_with_clicks=W.test_clicks.loc[
        W.test_clicks["user_id"].isin(W.split_users("test")), "user_id"].nunique(),
    n_val_users=len(W.split_users("val")),
    world_knobs={name: getattr(P, name) for name in world.KNOBS},
    cleaning=W.cleaning["classifier"],
    cleaning_rule_baseline=W.cleaning["rule_baseline"],
    cleaning_flag_everything=W.cleaning["flag_everything"],
    build_seconds=W.manifest["build_seconds"],
)
saving.write_results(P.profile, "01_data", results)
results
