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
# # 05 · On-policy distillation into a small student, and what it buys at serving time
#
# The paper serves a 0.5B student, not the 32B teacher (64x apart): the teacher is too slow
# for a production recall path (2 users/s against 67). It distils the teacher on-policy
# (the student samples its own lists and learns the per-token reverse KL to the teacher on
# them) and finds this closes most of the gap: on-policy .261 R@10 against supervised
# distillation's .245 and no distillation's .187, with the teacher at .271.
#
# Here the teacher is the largest size of notebook 04's capacity study (published there as
# `distillation-teacher`, and evaluated there once: its numbers are read from
# `04_capacity_per_user`), the student the smallest ladder size, at least 30x fewer
# parameters. The student trains as 04 trained the teacher (04's capacity regime: the same
# training users and GRPO steps, the student size's SFT recipe), so the teacher's
# advantage is its size, not more data. Every student starts from its own SFT warm start;
# the methods differ only after it (`newsstudy/distillation/__init__.py`):
#
# - **none**: Dr.GRPO directly, 04's recipe at the student's size (04's own policy at that
#   size for the first seed);
# - **supervised**: SFT on the teacher's lists as served, for the distillation users;
# - **on-policy**: reverse KL to the teacher on the student's own samples (TRL's
#   `DistillationTrainer`);
# - **on-policy + GRPO** (beyond the paper): on-policy, then a short Dr.GRPO phase.
#
# Each method trains `n_seeds` seeds, in parallel single-thread processes. Evaluation is
# the shared protocol of 03 and 04 (`newsstudy/protocol.py`).

# %% tags=["parameters"]
from typing import Optional

# Values left None come from params/<profile>/ (`newsstudy list 05_distillation` shows each
# value, its file and its meaning). A value set here, in `overrides` or with `-p` replaces
# the profile's, and the run then writes to a variant, reports/<profile>+<name>/.
profile: str = "default"  # the profile whose values a parameter left None takes
variant: Optional[str] = None  # the variant's name (None: named after the changed values)
seed: Optional[int] = None  # Seed for every random choice
student: Optional[str] = None  # Ladder size of the student
n_seeds: Optional[int] = None  # Training seeds per student
distill_steps: Optional[int] = None  # Optimisation steps of on-policy distillation
distill_learning_rate: Optional[float] = None  # Learning rate of on-policy distillation
grpo_after_steps: Optional[int] = None  # Dr.GRPO steps after on-policy distillation
overrides: dict = {}  # any other parameter by name, e.g. {"model": ...}

# %%
from newsstudy.params import from_namespace

P = from_namespace("05_distillation", globals())

# %%
import pandas as pd
from IPython.display import Markdown, display

from newsstudy import (
    distillation,
    gates,
    paths,
    saving,
    teacher,
)
from newsstudy.distillation import results as distillation_results
from newsstudy.distillation import tables as distillation_tables
from newsstudy.distillation.results import DistillationResults, RatioGate
from newsstudy.policy import distill
from newsstudy.policy.published import publish_policy
from newsstudy.teacher import setup
from newsstudy.timing import Timings

S = setup.evaluation_setup(P)  # world, reward scorer, serving path, 03's users
W, scorer, serving, eval_users = S.world, S.scorer, S.serving, S.eval_users
pipe = distillation.DistillPipeline(W, P, scorer, serving)
kl_users = S.val_users[: max(P.n_curve_users, 1)]
seeds = [P.seed + i for i in range(P.n_seeds)]
timings = Timings()
teacher_size = pipe.teacher_size()
sizes = distillation_tables.pair_table(teacher_size, P.student,
                                       len(pipe.teacher_pipe.tokenizer()))
params = sizes.set_index("role")["params"]
ratio = params["teacher"] / params["student"]
gate = {"student_30x_smaller": RatioGate(passes=ratio >= 30, ratio=ratio)}
same_users = pipe.same_training_users()
display(Markdown(distillation_tables.describe_pair(
    sizes, pipe.teacher().name, pipe.student_pipe.settings.n_train_users, same_users)))
sizes

# %% [markdown]
# ## The teacher, as 04 evaluated it
#
# Same test users, same serving path and decoding: 04's per-user table is the teacher's
# one evaluation.

# %%
teacher_rows = distillation.teacher_per_user(P.profile, teacher_size, eval_users, P.seed)
teacher_rows[["recall@10", "ndcg@10"]].mean()

# %% [markdown]
# ## Train the students (cached) and evaluate them
#
# The student's warm start first (shared by every method), then the methods that start
# from it, then on-policy + GRPO (which starts from on-policy). Each job trains one
# (method, seed), evaluates it on the test users and measures its reverse KL to the
# teacher on its own samples for validation users.

# %%
with timings.part("warm_start"):
    pipe.warm_start()
with timings.part("students"):
    measured = distillation.train_students(P, seeds, eval_users, kl_users)
students = distillation.checkpoints_by_method(measured)
per_user = distillation_tables.per_user_table(teacher_rows, measured)
saving.save_table(per_user, P.profile, "05_per_user", markdown=False)
kl_runs = distillation_tables.kl_runs_table(measured)
kl_runs.pivot_table(index="method", columns="seed", values=["reverse KL", "well-formed"]).round(3)

# %% [markdown]
# ## The distillation table
#
# R@10 per method (seeds averaged per user, 95% interval over users), the seed-to-seed
# spread, and the share of the teacher's gap over no distillation each method closes,
# from paired differences on the same users: (student - none) / (teacher - none), 1 when
# the student matches the teacher, 0 when distillation bought nothing over training the
# student with the teacher's recipe. The paper's students close 68% (supervised) and 88%
# (on-policy) of its gap. That share only means something when the teacher beats the
# student trained without it; this is checked first, and recorded with the results.

# %%
table = distillation_tables.method_table(per_user, kl_runs)
shares = distillation_tables.gap_share_table(
    per_user, [m for m in distillation.METHODS if m != "none"], seed=P.seed)
teacher_gap = distillation_tables.teacher_gap(per_user)
gate["teacher_beats_no_distillation"] = gates.interval_gate(
    teacher_gap, "teacher minus the student trained without it (R@10)")
display(Markdown(f"**Check**: the teacher against the student trained without it, "
                 f"{teacher_gap.text()}: "
                 f"{'passes' if gate['teacher_beats_no_distillation'].passes else 'FAILS: there is no gap for distillation to close'}."))
saving.save_tables(P.profile, {"05_distillation": table, "05_gap_share": shares})
saving.save_figure(distillation_tables.plot_distillation(table), P.profile, "05_distillation")
display(table.round(4))
shares.round(4)

# %% [markdown]
# ## Curves: supervised against on-policy
#
# First seed, Recall@10 of lists as served for fixed validation users, and the reverse KL
# to the teacher on the student's own samples, against optimisation steps.

# %%
curves = {method: distill.distill_curves(teacher.log_history(students[method][P.seed]))
          for method in ("supervised", "on-policy")}
saving.save_figure(distillation_tables.plot_curves(curves), P.profile, "05_curves")
pd.concat(curves, names=["method"]).reset_index(level=0).dropna(subset=["recall@10"]).round(3)

# %% [markdown]
# ## Serving efficiency
#
# The same batched generation for teacher and student on this CPU: one list per user
# (N = 1, as in serving), `serving_batch_size` users per batch, one torch thread, greedy
# decoding of at most `max_completion_length` tokens. A user's latency is the wall time of
# the batch it was served in.

# %%
serving_prompts = list(pipe.student_pipe.prompts(
    W.split_users("test")[: P.n_serving_users]).values())
with timings.part("serving"):
    speed = distillation.serving_speeds(pipe.teacher(), students["on-policy"][P.seed],
                                        serving_prompts, P.serving_batch_size,
                                        P.max_completion_length, P.serving_repeats)
serving_table = distillation_tables.serving_table(speed, params, P.serving_batch_size, threads=1)
saving.save_table(serving_table, P.profile, "05_serving")
serving_table

# %% [markdown]
# Each speed is the median of `serving_repeats` turns, teacher and student taking turns so
# that a slow spell of the machine falls on both; the range shows how far a turn strays.
# *Time in the model* is the share of the wall time spent inside the forward passes: the
# rest is the decoding loop (sampling, the duplicate guard, padding), which does not shrink
# with the model. The smaller that share is for the student, the further its speed-up
# falls below the parameter ratio.

# %% [markdown]
# ## The offline table, completed: baselines (03b), LLM rows (03) and the student
#
# The paper's main table in one place, on the test users every notebook scored. A part
# whose notebook ran on other inputs (an older world) is left out, and said so. The
# on-policy student (first seed) is what the A/B notebook serves.

# %%
from newsstudy.baselines import tables as baseline_tables
from newsstudy.run import status

offline_table, left_out = baseline_tables.offline_table_from_files(
    P.profile, per_user, stale=set(status.stale_inputs(P.profile)))
saving.save_tables(P.profile, {"05_offline_student_row": distillation_tables.offline_rows(per_user),
                               "offline_table": offline_table})
print("left out of the offline table (not run, or run on other inputs):", left_out or "none")
published = publish_policy(P.profile, "student", students["on-policy"][P.seed],
                           P.max_prompt_chars, "05_distillation", P.max_prompt_signals,
                           pipe.student_pipe.decoding.as_dict(),
                           prompt_candidates=P.prompt_candidates)
display(offline_table)
print("published", paths.portable(published))

# %% [markdown]
# ## Key numbers

# %%
results = DistillationResults(
    profile=P.profile,
    teacher_model=teacher_size,
    teacher_checkpoint=pipe.teacher().name,
    student_model=P.student,
    student_train_users=pipe.student_pipe.settings.n_train_users,
    same_training_users=same_users,
    params=params.to_dict(),
    gates=gate,
    seeds=seeds,
    n_eval_users=len(eval_users),
    distillation=distillation_results.method_rows(table),
    gap_share=distillation_results.gap_rows(shares),
    runs=kl_runs.to_dict(orient="records"),
    serving=speed,
    serving_batch_size=P.serving_batch_size,
    serving_threads=1,
    speedup=speed["student"]["users_per_second"] / speed["teacher"]["users_per_second"],
    timings_seconds=timings,
)
saving.write_results(P.profile, "05_distillation", results)
results.model_dump(include={"speedup", "gates"}) | {
    m: round(row.recall_at_10.mean, 4) for m, row in results.distillation.items()}
