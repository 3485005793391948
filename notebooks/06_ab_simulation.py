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
# # 06 · A simulated 7-day online A/B test: the student as one more recall path
#
# The paper ends with a 7-day online test in production: the distilled student writes one
# query list per user, its ANN hits become an extra recall path beside the existing ones,
# and DAU rises by 0.95% (p = 0.012), CTR by 0.22% (p = 0.031) and cold-user DAU by 4.38%
# (p = 0.004). Without production traffic we run the same experiment on simulated users
# over the real news corpus: a world of its own with 100,000+ users (built like notebook
# 01's), a feed whose control recall paths use only logged clicks and article metadata,
# a click model driven by the users' *latent* interests (position bias times relevance),
# and a return model in which users who were served well come back more often. Users are
# randomised 50/50; the treatment arm's feed also draws on the published student's lists
# (generated here, by actually running the checkpoint on each user's cleaned signals).
# Everything the simulator assumes is a parameter below, documented in
# `newsstudy/ab/simulate.py`; nothing in it knows which path is new, so the treatment can
# only win by retrieving articles these users like.
#
# Regenerates: the paper's online A/B table (DAU, CTR, cold-user DAU; lifts and p-values),
# plus what the paper does not show: each arm's values, 95% intervals, a bootstrap check,
# the false-positive rate of the test over replicated A/A tests, and its power.

# %% tags=["parameters"]
from typing import Optional

# Values left None come from params/<profile>/ (`newsstudy list 06_ab_simulation` shows each
# value, its file and its meaning). A value set here, in `overrides` or with `-p` replaces
# the profile's, and the run then writes to a variant, reports/<profile>+<name>/.
profile: str = "default"  # the profile whose values a parameter left None takes
variant: Optional[str] = None  # the variant's name (None: named after the changed values)
seed: Optional[int] = None  # Seed for every random choice
n_users: Optional[int] = None  # Users of the A/B world
days: Optional[int] = None  # Days the test runs
treatment_policy: Optional[str] = None  # Published policy that writes the treatment's query lists
alpha: Optional[float] = None  # Significance level of the tests
n_aa_tests: Optional[int] = None  # Replicated A/A tests (random re-splits)
overrides: dict = {}  # any other parameter by name, e.g. {"feed_size": ...}

# %%
from newsstudy.params import from_namespace

P = from_namespace("06_ab_simulation", globals())

# %%
import time

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from newsstudy import paths, saving
from newsstudy.ab import market as ab_market
from newsstudy.ab import results as ab_results
from newsstudy.ab import settings, simulate, stats, treatment
from newsstudy.ab import tables as ab_tables
from newsstudy.ab.results import ABResults
from newsstudy.policy import published
from newsstudy.timing import Timings

saving.set_style()
timings, started_all = Timings(), time.perf_counter()
with timings.part("world"):
    W = ab_market.build_ab_world(P.profile, P.n_users, P.days, P.history_days)
    market = ab_market.Market.from_world(W)
    feed, click, ret = settings.settings_from_params(P)
    treated = simulate.assign_arms(market.n_users, P.seed)
print(ab_tables.describe_market(W, market, treated, P.days))

# %% [markdown]
# ## The treatment path: the published policy's query lists
#
# One greedy list per treatment user from their cleaned cross-domain signals (the prompt
# the policy was trained on), generated once and cached under `artifacts/<profile>/ab/`.
# Each query searches an ANN index of the day's articles; hits are fused round-robin.

# %%
policy = published.load_published(P.profile, P.treatment_policy)
with timings.part("generation"):
    query_path, lists, generation = treatment.build_query_path(
        W, market, np.flatnonzero(treated), policy, paths.profile_artifacts(P.profile) / "ab",
        serving_embedder=P.serving_embedder, index_kind=P.index_kind, k_per_query=P.k_per_query,
        max_queries=P.max_queries, max_new_tokens=P.max_new_tokens,
        batch_size=P.generation_batch_size)
list_stats = ab_tables.list_stats(lists, generation)
print(f"policy {policy.name!r} from {policy.source_notebook}: {paths.portable(policy.checkpoint)}")
pd.Series(list_stats)

# %%
for block in ab_tables.example_users_markdown(W, market, treated, lists, query_path, P.feed_size):
    display(Markdown(block))

# %% [markdown]
# ## Seven days, both arms
#
# Both arms share the same random numbers per user-day, the same click and return model,
# and the same production state (popularity and co-clicks learned from everyone's clicks).

# %%
with timings.part("simulation"):
    outcome = simulate.simulate(market, treated, P.days, P.seed, query_path, feed, click, ret)
user_days = market.n_users * P.days
timings["user_days_per_minute"] = round(60 * user_days / timings["simulation_seconds"])
print(f"{user_days:,} user-days in {timings['simulation_seconds']:.1f} s "
      f"({timings['user_days_per_minute']:,} user-days per minute, treatment retrieval included)")
daily = outcome.daily()
saving.save_table(daily, P.profile, "06_daily", float_format=".4f")
paths_table = outcome.path_table()
saving.save_table(paths_table, P.profile, "06_recall_paths", float_format=".4f")
paths_table

# %%
saving.save_figure(ab_tables.plot_daily(daily), P.profile, "06_daily")

# %% [markdown]
# ## The A/B table: ours beside the paper
#
# DAU and cold-user DAU are per-user shares of active days (arm mean = average daily
# active users / arm users), tested with Welch's t; CTR pools clicks over impressions in
# each arm, tested with the delta method. Lifts are relative, with delta-method 95%
# intervals; a Poisson bootstrap (users resampled within arms) checks interval and p.

# %%
control, treatment_metrics = outcome.metrics("control"), outcome.metrics("treatment")
results = {name: stats.compare(control[name], treatment_metrics[name], P.alpha,
                               n_bootstrap=P.n_bootstrap, seed=P.seed)
           for name in control}
ab_table = ab_tables.comparison_table(results, P.days)
saving.save_table(ab_table, P.profile, "06_ab_table", float_format=".4f")
ab_table

# %% [markdown]
# ## Does the test hold its size? Replicated A/A tests
#
# The same seven days with nobody treated (same random numbers), then the users are split
# 50/50 at random many times. The outcomes cannot depend on those labels, so the share of
# p-values below alpha is the test's real false-positive rate; it should be close to
# alpha, and the p-values close to uniform.

# %%
with timings.part("aa"):
    untreated = simulate.simulate(market, np.zeros(market.n_users, bool), P.days, P.seed,
                                  None, feed, click, ret)
    aa_p = stats.aa_p_values(untreated.metrics(), P.n_aa_tests, P.seed,
                             subsets={"cold_dau": market.is_cold})
aa_table = stats.false_positive_rate(aa_p, P.alpha)
saving.save_table(aa_table, P.profile, "06_aa_tests", float_format=".4f")
saving.save_figure(ab_tables.plot_aa_p_values(aa_p), P.profile, "06_aa_p_values")
aa_table

# %% [markdown]
# ## Power: the smallest lift this test can see
#
# Minimum detectable relative lift (two-sided alpha, the power above) against users per
# arm (all users; cold-user DAU covers the cold share of them), from the per-user spread
# in the control arm. The paper's published lifts are drawn as horizontal lines: where a
# curve crosses its line is how many users per arm the paper's effect needs. The check
# below resamples the experiment's own arms (with replacement) at the observed lift.

# %%
coverage = {"cold_dau": float(market.is_cold.mean())}  # cold users per arm = share x users
curve = stats.mde_curve(control, ab_tables.power_grid(), P.alpha, P.power, coverage)
saving.save_table(curve, P.profile, "06_mde_curve", markdown=False)
needed = ab_tables.users_for_paper_lifts(control, P.alpha, P.power, coverage)
saving.save_figure(ab_tables.plot_power(curve, min(treated.sum(), (~treated).sum()), P.power), P.profile, "06_power_mde")
check = stats.power_check(control, treatment_metrics, n_replicates=P.power_replicates,
                          alpha=P.alpha, seed=P.seed)
saving.save_table(check, P.profile, "06_power_check", float_format=".3f")
display(pd.Series(needed, name="users per arm for the paper's lift at this power").round())
check

# %% [markdown]
# ## Key numbers

# %%
timings["total_seconds"] = time.perf_counter() - started_all
results_record = ABResults(
    profile=P.profile,
    n_users=market.n_users,
    days=P.days,
    n_control=(~treated).sum(),
    n_treatment=treated.sum(),
    cold_share=market.is_cold.mean(),
    ab_world_hash=W.manifest["world_hash"],
    policy={"name": policy.name, "source_notebook": policy.source_notebook,
            "checkpoint": paths.portable(policy.checkpoint), **list_stats},
    metrics=ab_results.metric_lifts(results),
    aa=ab_results.aa_record(aa_table, P.n_aa_tests, P.alpha),
    power={"users_per_arm_for_paper_lift": needed,
           "mde_at_our_users": ab_tables.mde_at_our_users(control, P.alpha, P.power),
           "check": check.to_dict(orient="records")},
    recall_paths=paths_table.to_dict(orient="records"),
    settings={"feed": feed, "click": click, "returns": ret},
    timings=timings,
)
saving.write_results(P.profile, "06_ab_simulation", results_record)
timings
