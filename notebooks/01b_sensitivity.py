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
# # 01b · Which conclusions hang on which assumption about the world
#
# The world of notebook 01 is built to carry the paper's premise: that inferring a user's
# interests from cross-domain signals pays over copying the signals. That premise is an
# assumption taken from the paper, not a finding of this study. This notebook makes the
# assumption inspectable: each world knob is set low and high around the profile's value,
# one at a time, and the same yardsticks are scored in each world: copying the signals,
# the legal interest-inference strategy, the latent oracle, the content baseline, and a
# short-schedule GRU4Rec. A reader sees which gate (inference pays; the serving path's
# ceiling clears the baselines) holds under which assumption.
#
# For speed the sweep worlds are smaller, served and embedded with the static embedder,
# and cleaned by one cleaner fitted on the sweep's default world; rows compare with each
# other, not with the main tables of notebooks 02 and 03b. No paper table: this is ours.

# %% tags=["parameters"]
from typing import Optional

# Values left None come from params/<profile>/ (`newsstudy list 01b_sensitivity` shows each
# value, its file and its meaning). A value set here, in `overrides` or with `-p` replaces
# the profile's, and the run then writes to a variant, reports/<profile>+<name>/.
profile: str = "default"  # the profile whose values a parameter left None takes
variant: Optional[str] = None  # the variant's name (None: named after the changed values)
seed: Optional[int] = None  # Seed for every random choice
n_users: Optional[int] = None  # Users of each sweep world
knobs: Optional[list] = None  # Knobs to sweep
overrides: dict = {}  # any other parameter by name, e.g. {"n_queries": ...}

# %%
from newsstudy.params import from_namespace

P = from_namespace("01b_sensitivity", globals())

# %%
import dataclasses
import time

import torch

from newsstudy import saving, world
from newsstudy.baselines import TrainSettings
from newsstudy.params import load_params, schema_defaults
from newsstudy.world import sensitivity
from newsstudy.world.results import SensitivityResults

torch.set_num_threads(1)
saving.set_style()
base = load_params("01_data", P.profile).model_copy(update={"seed": P.seed})
settings = {knob: sensitivity.SETTINGS[knob] for knob in P.knobs}
# the yardstick: 03b's GRU4Rec as its schema defines it, for gru_epochs with patience 1
baselines = schema_defaults("03b_baselines")
gru = dataclasses.replace(TrainSettings.from_params(baselines), epochs=P.gru_epochs, patience=1)
print("knobs swept:", ", ".join(settings))
print("world knobs (documented in newsstudy.world.WorldConstants):", ", ".join(world.KNOBS))

# %% [markdown]
# ## The sweep

# %%
started = time.perf_counter()
long = sensitivity.sweep(base, n_users=P.n_users, n_queries=P.n_queries, fusion=P.fusion,
                         k_per_query=P.k_per_query, gru=gru, val_days=baselines.val_days,
                         settings=settings)
seconds = time.perf_counter() - started
saving.save_table(long, P.profile, "01b_sensitivity_long", markdown=False)
print(f"{long[['knob', 'level']].drop_duplicates().shape[0]} worlds in {seconds:.0f}s")

# %% [markdown]
# ## The sensitivity table
#
# Recall@10 of each yardstick per world; `infer / copy` and `oracle / best baseline` are the
# two world gates' ratios (thresholds 1.15 and 1.20).

# %%
table = sensitivity.sensitivity_table(long)
saving.save_table(table, P.profile, "01b_sensitivity")
table

# %%
saving.save_figure(sensitivity.plot_sensitivity(table), P.profile, "01b_sensitivity")

# %% [markdown]
# ## Key numbers

# %%
results = SensitivityResults(
    profile=P.profile, n_users_per_world=P.n_users, n_worlds=len(table),
    settings={knob: list(levels) for knob, levels in settings.items()},
    rows=sensitivity.results_rows(table, long),
    inference_pays_share=table["inference pays"].mean(),
    ceiling_clears_share=table["ceiling clears baselines"].mean(),
    seconds=round(seconds, 1))
saving.write_results(P.profile, "01b_sensitivity", results)
results.model_dump(exclude={"rows"})
