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
# # 04 · Compute scaling: model capacity and best-of-N sampling
#
# The paper studies two ways to spend compute on the RL teacher: a larger model (Qwen2.5
# from 0.5B to 32B, quality rising with size), and sampling N lists per user and keeping
# the one the composite reward likes best (most of the gain by N = 4). We run the same two
# experiments on the ladder of small from-scratch models, and ask a question the paper
# leaves open: per unit of inference compute, is a larger model or more samples the
# better buy?
#
# Every size runs one recipe (`newsstudy/scaling/capacity.py`): the teacher recipe of 03 (prompt,
# demonstrations, decoding, rewards, GRPO steps and group size) on `capacity_train_users`
# training users and `capacity_grpo_steps` Dr.GRPO steps, with the size's own SFT epochs
# and learning rates (`capacity_sft_epochs`, `capacity_sft_learning_rates`,
# `capacity_grpo_learning_rates`: every size's value in the schema, the profile's file
# changing those of the sizes it names, chosen on validation users against the same bars).
# Before a size's number is read, its warm start must pass 03's imitation and format bars
# on validation users. Sizes train in
# parallel single-thread processes (`newsstudy/parallel.py`); the numbers are those of a
# serial run. Best-of-N samples 03's RL teacher itself, from the checkpoint cache. All
# evaluation is the shared protocol (`newsstudy/protocol.py`): the same test users,
# serving path and decoding as 03.

# %% tags=["parameters"]
from typing import Optional

# Values left None come from params/<profile>/ (`newsstudy list 04_scaling` shows each
# value, its file and its meaning). A value set here, in `overrides` or with `-p` replaces
# the profile's, and the run then writes to a variant, reports/<profile>+<name>/.
profile: str = "default"  # the profile whose values a parameter left None takes
variant: Optional[str] = None  # the variant's name (None: named after the changed values)
seed: Optional[int] = None  # Seed for every random choice
sizes: Optional[list] = None  # Ladder sizes trained, smallest first
capacity_grpo_steps: Optional[int] = None  # Dr.GRPO steps of every size in the capacity study
best_of_n: Optional[list] = None  # N values of best-of-N sampling from the teacher
n_best_of_n_users: Optional[int] = None  # Users of best-of-N and the compute frontier
overrides: dict = {}  # any other parameter by name, e.g. {"model": ...}

# %%
from newsstudy.params import from_namespace

P = from_namespace("04_scaling", globals())

# %%
import pandas as pd
from IPython.display import Markdown, display

from newsstudy import (
    parallel,
    paths,
    saving,
    scaling,
    teacher,
)
from newsstudy.policy import ladder
from newsstudy.policy.published import publish_policy
from newsstudy.scaling import capacity, verifier
from newsstudy.scaling import results as scaling_results
from newsstudy.scaling import tables as scaling_tables
from newsstudy.scaling.results import ScalingResults
from newsstudy.teacher import imitation, setup
from newsstudy.timing import Timings

S = setup.evaluation_setup(P)  # world, serving path, 03's users; the reward scorer on first use
W, serving, eval_users, val_users = S.world, S.serving, S.eval_users, S.val_users
bon_users = eval_users[: P.n_best_of_n_users]
# the kernel only prompts and decodes, so its pipeline holds no reward scorer (S.scorer is
# built on first use, after the workers have trained, so it is not held beside theirs)
teacher_pipeline = teacher.PolicyPipeline(W, P, scorer=None)
teacher_pipeline.tokenizer()  # trained once here (if not cached), shared by every size
timings = Timings()
pd.DataFrame(ladder.ladder_table(P.vocab_size)).set_index("name").loc[P.sizes]

# %% [markdown]
# ## Model capacity: one recipe at every size
#
# Training compute is estimated as 6 x parameters x tokens processed (SFT and GRPO, as
# logged by the trainers; GRPO's sampling is counted as training tokens too). Wall time is
# what each checkpoint's training took when it was made (cached runs keep it).

# %%
# Every size in its own single-thread process, two at a time. The largest size trains
# longest: its warm start, its policy and its three measurements are tasks of their own,
# each taken by the next free worker as soon as what it reads is trained; the other sizes
# and the best-of-N samples of 03's teacher (below) fill the other worker meanwhile.
tasks = capacity.size_tasks(P, eval_users, val_users, bon_users, max(P.sizes_best_of_n))
tasks["teacher samples"] = parallel.Task(capacity.sample_teacher,
                                         (P, bon_users, max(P.best_of_n)))
tasks["learned verifier"] = parallel.Task(verifier.train_and_check, (P, val_users))
with timings.part("capacity"):
    done = parallel.run_tasks(tasks)
records = capacity.size_records(done, P.sizes)
facts = scaling_tables.capacity_facts(records)
facts

# %% [markdown]
# ### Check: every size imitates its demonstrations and writes well-formed lists
#
# 03's bars, on the same validation users: the warm start's lists as served reach at
# least 90% of the Recall@10 of the demonstrations it was trained on, and at least 95% are
# well-formed. The held-out SFT loss on the validation users' demonstrations should fall
# with size.

# %%
demo_recall = imitation.demonstration_recall(W, serving, P, teacher_pipeline.prompts(val_users),
                                           val_users)
validation = scaling_tables.validation_table(records, demo_recall)
saving.save_table(validation, P.profile, "04_validation")
saving.save_figure(scaling_tables.plot_validation_loss(validation), P.profile, "04_validation")
loss_slope = scaling_tables.loss_slope_per_decade(validation)
gate = scaling_tables.ladder_gates(validation)
display(Markdown(scaling_tables.describe_ladder_gates(gate, loss_slope)))
validation.round(4)

# %% [markdown]
# ### Quality against size, on the test users
#
# Recall@10 of each size's Dr.GRPO policy, lists as served, and the composite reward of
# those lists. Each fit is `metric = a + b log10(parameters)`; the interval on the slope `b`
# is a bootstrap over test users. An interval that includes 0 means this study cannot tell
# whether size helps at all on this data.

# %%
capacity_users = scaling_tables.capacity_per_user(records, "test")
saving.save_table(capacity_users, P.profile, "04_capacity_per_user", markdown=False)
capacity_table, fit, reward_fit = scaling_tables.capacity_fits(capacity_users, facts, P.seed)
gate["largest_size_retrieves"] = scaling_tables.largest_retrieves(capacity_table)
saving.save_tables(P.profile, {"04_capacity": capacity_table,
                               "04_capacity_paper": scaling_tables.paper_capacity_table()})
saving.save_figure(scaling_tables.plot_capacity(capacity_table, fit), P.profile, "04_capacity")
display(capacity_table.round(4))
pd.DataFrame({"R@10": fit, "reward": reward_fit}).round(4)

# %% [markdown]
# The largest size is published as the teacher notebook 05 distils (the only size at least
# 30x the student's parameters when the ladder spans xs to xl); 05 reads its numbers from
# `04_capacity_per_user` rather than evaluating it again.

# %%
largest_record = records[-1]
distillation_teacher = publish_policy(
    P.profile, "distillation-teacher", largest_record["checkpoint"], P.max_prompt_chars,
    "04_scaling", P.max_prompt_signals, teacher_pipeline.decoding.as_dict(),
    prompt_candidates=P.prompt_candidates)
print("published", paths.portable(distillation_teacher))

# %% [markdown]
# ## Inference-time sampling: best-of-N from the RL teacher
#
# 03's RL teacher (first seed). For each of the first `n_best_of_n_users` test users we
# sample the largest N lists once, at the sampling temperature, and estimate best-of-N for
# each smaller N by averaging over random N-subsets. Four picks among N lists: the one the
# composite reward scores highest (the paper's method, no ground truth needed), one at
# random (the baseline: its expected value is the mean over the user's samples), the one a
# learned verifier scores highest (below), and the one with the best Recall@10 (an oracle,
# an upper bound, not a method). Also shown: fusing all N lists into one ranking (the
# union).
#
# ### A learned verifier
#
# What a production system could train instead of hand-written rewards
# (`newsstudy/scaling/verifier.py`): it logs, for `verifier_train_users` *training* users,
# `verifier_samples` lists each from the teacher and what each list retrieved of the user's
# later clicks (the verifiable reward's time split: the prompt as of the cut, the clicks
# after it), and fits a few shallow boosted trees that score a list from what is visible
# when it is served: the prompt, the list, and what its queries find in the index. It
# never sees a validation or test user's clicks. Before its best-of-N pick is read, it must
# rank validation users' lists: a within-user Spearman with their test Recall@10 and a
# best-of-G gain over a random pick, both intervals above zero.

# %%
trained_verifier = done["learned verifier"]  # trained above, beside the capacity study
verifier_check = verifier.validity(pd.DataFrame(trained_verifier["validation"]))
pd.Series({**trained_verifier["training"], **verifier_check})

# %%
drawn = done["teacher samples"]  # drawn above, beside the capacity study
with timings.part("best_of_n"):
    verifier_scores = verifier.scored_frame(
        {u: texts for u, (texts, _) in drawn.items()}, teacher_pipeline.prompts(bon_users),
        serving, trained_verifier["verifier"])
    bon = scaling.best_of_n_study(W, serving, S.scorer, drawn, P.best_of_n, P.n_draws, P.seed,
                                  P.fusion, verifier_scores)
saving.save_tables(P.profile, {"04_best_of_n": bon.table, "04_best_of_n_gains": bon.gains,
                               "04_best_of_n_verifier_gains": bon.verifier_gains})
saving.save_figure(scaling_tables.plot_best_of_n(bon.table), P.profile, "04_best_of_n")
saving.save_figure(scaling_tables.plot_pick_gains(bon.gains, bon.oracle_gains,
                                                  bon.verifier_gains), P.profile,
                   "04_best_of_n_gains")
display(bon.table.round(4))
pd.concat({"reward pick": bon.gains, "learned verifier pick": bon.verifier_gains}).round(4)

# %% [markdown]
# Diminishing returns, tested on the paired gains: per user, the gain per doubling of N up
# to N = 4 against the gain per doubling from 4 to the largest N (for the reward's pick
# and the verifier's). The paper's curve reaches 77% of its N = 32 gain by N = 4. And the
# share of the N = max gain (reward pick, over N = 1) already reached at each N.

# %%
diminishing = scaling.diminishing_if_testable(bon.selected, P.best_of_n, split=4)
verifier_diminishing = scaling.diminishing_if_testable(bon.verifier_selected, P.best_of_n,
                                                      split=4)
share = scaling_tables.gain_share_table(bon.table)
saving.save_table(share, P.profile, "04_best_of_n_gain_share")
display(share.round(3))
untested = {"diminishing returns": "not tested (needs N = 4 inside)"}
pd.DataFrame({"reward pick": diminishing or untested,
              "learned verifier pick": verifier_diminishing or untested})

# %% [markdown]
# ## Beyond the paper: quality per unit of inference compute
#
# Every size of the capacity study, sampled N times and picked by the composite reward, on
# the same users. Inference compute per user is 2 x parameters x (prompt tokens +
# generated tokens) per list, times N (the reward's own cost is left out: it is the same
# small embedder for every size). The compute-matched table pairs each larger size at
# N = 1 with each smaller size at the largest N that costs no more.

# %%
picks = scaling.frontier_picks(records, P.sizes_best_of_n, P.n_draws, P.seed)
points = scaling.frontier_points(records, picks)
matched = scaling_tables.compute_matched(picks, points)
matches = scaling_tables.matches_at_lower_compute(points)
saving.save_tables(P.profile, {"04_compute_frontier": points, "04_compute_matched": matched,
                               "04_small_model_matches": matches})
saving.save_figure(scaling_tables.plot_compute_frontier(points), P.profile, "04_compute_frontier")
matched.round(4)

# %%
answer = scaling_tables.describe_matches(matches, max(P.sizes_best_of_n))
print("\n".join(answer))

# %% [markdown]
# ## Key numbers

# %%
results = ScalingResults(
    profile=P.profile,
    teacher_model=P.model,
    capacity_train_users=P.capacity_train_users,
    capacity_grpo_steps=P.capacity_grpo_steps,
    sizes=list(facts.index),
    n_eval_users=len(eval_users),
    n_val_users=len(val_users),
    n_best_of_n_users=len(bon_users),
    gates=gate,
    validation=validation.set_index("size").to_dict(orient="index"),
    validation_loss_slope_per_decade=loss_slope,
    capacity=scaling_results.capacity_rows(capacity_table),
    capacity_fit=scaling_results.log_fit(fit),
    capacity_reward_fit=scaling_results.log_fit(reward_fit),
    param_span=capacity_table["params"].max() / capacity_table["params"].min(),
    distillation_teacher={"size": largest_record["size"], "params": largest_record["params"],
                          "checkpoint": paths.portable(distillation_teacher)},
    best_of_n=bon.table.set_index("N").to_dict(orient="index"),
    best_of_n_gains=scaling_results.gains_by_n(bon.gains),
    best_of_n_oracle_gains=scaling_results.gains_by_n(bon.oracle_gains),
    best_of_n_diminishing=scaling_results.diminishing_record(diminishing),
    best_of_n_gain_share=share.set_index("N")["ours: share of gain"].to_dict(),
    verifier=scaling_results.verifier_record(trained_verifier["training"], verifier_check),
    best_of_n_verifier_gains=scaling_results.gains_by_n(bon.verifier_gains),
    best_of_n_verifier_diminishing=scaling_results.diminishing_record(verifier_diminishing),
    compute_frontier=points.to_dict(orient="records"),
    compute_matched=scaling_results.matched_rows(matched),
    small_model_matches=answer,
    timings_seconds=timings,
)
saving.write_results(P.profile, "04_scaling", results)
results.model_dump(include={"gates", "capacity_fit", "param_span", "small_model_matches"})
