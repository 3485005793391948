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
# # 03b · The paper's baselines on the same split and protocol
#
# This notebook regenerates the baseline rows of the paper's offline retrieval table (GRU,
# SASRec, NRHUB, PinSage, HSTU), plus two simple references (popularity and a content
# model: the mean embedding of the user's cleaned behaviour). Every model is trained on the
# TRAIN users' history clicks, early-stopped on the VAL users' last history days, and
# scored on the TEST users exactly as the query policies are: a top-100 ranking over the
# articles of the test window, Recall@5/10, NDCG@5/10 and MRR against the held-out clicks.
# All test-window articles are new, so every model scores them through their (frozen)
# MiniLM embeddings; click-sequence models fall back to the content model for users with
# no news click to read. The protocol and each model's simplifications are documented in
# `newsstudy/baselines/`.

# %% tags=["parameters"]
from typing import Optional

# Values left None come from params/<profile>/ (`newsstudy list 03b_baselines` shows each
# value, its file and its meaning). A value set here, in `overrides` or with `-p` replaces
# the profile's, and the run then writes to a variant, reports/<profile>+<name>/.
profile: str = "default"  # the profile whose values a parameter left None takes
variant: Optional[str] = None  # the variant's name (None: named after the changed values)
seed: Optional[int] = None  # Seed for every random choice
n_seeds: Optional[int] = None  # Training seeds per baseline
epochs: Optional[int] = None  # Most training epochs (early-stopped)
learning_rate: Optional[float] = None  # Adam learning rate
hidden: Optional[int] = None  # Hidden / embedding size of the neural baselines
overrides: dict = {}  # any other parameter by name, e.g. {"k_per_query": ...}

# %%
from newsstudy.params import from_namespace

P = from_namespace("03b_baselines", globals())

# %%
import time

import torch

from newsstudy import saving
from newsstudy.baselines import TrainSettings, prepare
from newsstudy.baselines import results as baseline_results
from newsstudy.baselines import runs as baseline_runs
from newsstudy.baselines import tables as baseline_tables
from newsstudy.baselines.results import BaselineGates, BaselinesResults
from newsstudy.world import data

torch.set_num_threads(1)  # small models: one thread is faster than two on a 2-core machine
saving.set_style()
started = time.perf_counter()
W = data.load_world(P.profile)
D = prepare(W, P.text_embedder, P.val_days)
settings = TrainSettings.from_params(P)
print(f"{len(D.train_users)} train / {len(D.val_targets)} val / {len(D.test_users)} test users; "
      f"{len(D.test_rows)} test-window articles; prepared in {time.perf_counter() - started:.1f}s")

# %% [markdown]
# ## Train and evaluate every baseline

# %%
per_user, training_log, seconds = baseline_runs.run_baselines_in_parallel(  # 2 processes
    P.profile, P.text_embedder, P.val_days, settings, P.n_seeds, P.seed, P.top_n)
per_user_csv = saving.save_table(per_user, P.profile, "03b_per_user", markdown=False)
saving.save_table(training_log, P.profile, "03b_training_log")
training_log.groupby(["method", "seed"]).agg(
    epochs=("epoch", "max"), best_val_recall10=("val_recall@10", "max"))

# %% [markdown]
# ## The offline table: ours beside the paper
#
# Mean over test users (each averaged over seeds) with 95% intervals over users; the seed std is the spread
# of the per-seed means. The paper's absolute numbers come from a production log, so only
# the ordering is comparable. This notebook reads only 01's world, so `reproduce` runs it
# beside 03; the complete table, with 03's LLM rows and the distilled student on the users
# every part scored, is written once, by notebook 05 (`tables/offline_table`).

# %%
summary = baseline_tables.summarise(per_user)
table = baseline_tables.display_table(summary)
saving.save_table(table, P.profile, "03b_baselines")
table

# %% [markdown]
# ## Warm and cold users

# %%
warm_cold = baseline_tables.warm_cold_table(per_user)
saving.save_table(warm_cold, P.profile, "03b_warm_cold")
warm_cold

# %%
saving.save_figure(baseline_tables.plot_summary(summary), P.profile, "03b_baselines")

# %% [markdown]
# ## World gate: can any query list beat these baselines?
#
# The oracle list (written from the users' latent interests, for analysis only), served
# like any policy's list, against the best trained baseline on the same test users. If no
# query list, however good, could beat the baselines, the paper's headline comparison
# would be decided by the world. The gate: at least 20% more Recall@10, paired 95%
# interval above zero.

# %%
import pandas as pd

from newsstudy import embed, evaluation, gates
from newsstudy.baselines import TRAINED
from newsstudy.world import strategies

ctx = strategies.StrategyContext(W, embed.get_embedder(P.reward_embedder), P.n_queries, P.seed)
serving = evaluation.serving_retriever(W, P.serving_embedder, P.index_kind,
                                         k_per_query=P.k_per_query)
oracle_lists = strategies.completions_for(ctx, strategies.oracle, D.test_users).to_dict()
oracle_scores = evaluation.evaluate_completions(W, serving, oracle_lists, fusion=P.fusion)
gate_scores = pd.concat([
    per_user[["method", "user", "recall@10"]],
    oracle_scores.reset_index()[["user", "recall@10"]].assign(method="oracle")])
best_trained = gates.best_method(gate_scores, list(TRAINED), method_col="method")
ceiling_gate = gates.lift_gate(gate_scores, "oracle", best_trained, gates.CEILING_LIFT,
                               method_col="method")
content_gap = gates.lift_gate(gate_scores, "oracle", "content", gates.CEILING_LIFT,
                              method_col="method")
print(f"ceiling clears baselines: {ceiling_gate.passes} (oracle {ceiling_gate.mean_a:.4f} "
      f"vs {best_trained} {ceiling_gate.mean_b:.4f}: {ceiling_gate.relative:+.1%}, paired "
      f"diff {ceiling_gate.estimate().text(4)}, n = {ceiling_gate.n})")

# %% [markdown]
# ## Key numbers

# %%
means = summary[summary["metric"] == "recall@10"].set_index("method")["mean"]
results = BaselinesResults(
    profile=P.profile,
    n_seeds=P.n_seeds,
    n_test_users=per_user["user"].nunique(),
    n_test_articles=len(D.test_rows),
    text_embedder=P.text_embedder,
    methods=baseline_results.method_metrics(summary),
    warm_cold=baseline_results.warm_cold(per_user),
    best_by_recall10=means.idxmax(),
    seconds={**seconds, "total": round(time.perf_counter() - started, 1)},
    per_user_csv=per_user_csv.name,
    gates=BaselineGates(ceiling_clears_baselines=ceiling_gate, oracle_vs_content=content_gap),
)
saving.write_results(P.profile, "03b_baselines", results)
results.seconds
