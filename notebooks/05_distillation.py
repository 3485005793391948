# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (newsstudy)
#     language: python
#     name: newsstudy
# ---

# %% [markdown]
# # 05 · On-policy distillation into a small student, and what it buys at serving time
#
# The paper serves a 0.5B student, not the 32B teacher: the teacher is too slow for a
# production recall path (2 users/s against 67). It distils the teacher on-policy (the
# student samples its own lists and learns the per-token reverse KL to the teacher on
# them) and finds this closes most of the gap: on-policy .261 R@10 against supervised
# distillation's .245 and no distillation's .187, with the teacher at .271.
#
# Here the teacher is notebook 03's RL teacher and the student the smallest ladder size.
# Every student starts from its own SFT warm start; the methods differ only after it
# (`newsstudy/distillation.py`). Beyond the paper: a short Dr.GRPO phase after on-policy
# distillation. Evaluation is the shared protocol of 03.

# %% tags=["parameters"]
profile = "default"
seed = 0
student = "xs"
n_seeds = 3
n_eval_users = 500
teacher_samples = 2
supervised_epochs = 2
supervised_learning_rate = 0.002
distill_steps = 200
distill_learning_rate = 0.002
distill_batch_size = 16
grpo_after_steps = 20
curve_every = 25
n_curve_users = 100
n_serving_users = 256
serving_batch_size = 32

# %%
from newsstudy.params import from_namespace

P = from_namespace("05_distillation", globals())

# %%
import time

import numpy as np
import pandas as pd
from IPython.display import display

from newsstudy import (
    data,
    distillation,
    distillation_report,
    evaluation,
    reporting,
    rewards,
    teacher,
)
from newsstudy.ab.treatment import publish_policy
from newsstudy.policy import checkpoints, distill, generate, ladder

reporting.set_style()
W = data.load_world(P.profile)
scorer = rewards.RewardScorer.from_settings(W, P)
serving = evaluation.serving_retriever(W, P.serving_embedder, P.index_kind)
pipe = distillation.DistillPipeline(W, P, scorer, serving)
eval_users = [int(u) for u in np.random.default_rng(P.seed).permutation(
    W.split_users("test"))[: P.n_eval_users]]
seeds = [P.seed + i for i in range(P.n_seeds)]
timings = {}
sizes = pd.DataFrame([{"role": "teacher", "size": P.model,
                       "params": ladder.parameter_count(P.model, len(pipe.teacher_pipe.tokenizer()))},
                      {"role": "student", "size": P.student,
                       "params": ladder.parameter_count(P.student, len(pipe.teacher_pipe.tokenizer()))}])
sizes

# %% [markdown]
# ## Train the students (cached)
#
# Teacher and student warm start first (both shared with notebooks 03 and 04), then each
# method for each seed.

# %%
started = time.perf_counter()
teacher_ckpt = pipe.teacher()
warm_ckpt = pipe.warm_start()
timings["teacher_and_warm_start_seconds"] = time.perf_counter() - started
students = {}
for method in distillation.METHODS:
    started = time.perf_counter()
    students[method] = {s: pipe.student(method, s) for s in seeds}
    timings[f"train_{method}_seconds"] = time.perf_counter() - started
pd.Series(timings).round(1)

# %% [markdown]
# ## The distillation table

# %%
started = time.perf_counter()
frames = []


def evaluate(name, checkpoint, run_seed, pipeline):
    frame, _ = evaluation.evaluate_policy(W, serving, pipeline.policy(checkpoint), eval_users,
                                          fusion=P.fusion)
    return frame.rename_axis("user").reset_index().assign(method=name, seed=run_seed)


frames.append(evaluate("teacher", teacher_ckpt, P.seed, pipe.teacher_pipe))
frames.append(evaluate("student warm start", warm_ckpt, P.seed, pipe.student_pipe))
for method, by_seed in students.items():
    for s, ckpt in by_seed.items():
        frames.append(evaluate(method, ckpt, s, pipe.student_pipe))
per_user = pd.concat(frames)
timings["eval_seconds"] = time.perf_counter() - started
reporting.save_table(per_user, P.profile, "05_per_user", markdown=False)

# %% [markdown]
# Reverse KL(student || teacher) per token on each student's own samples (temperature 1,
# one per evaluation user, first seed): how far each student's distribution is from the
# teacher's where the student actually goes.

# %%
started = time.perf_counter()
teacher_model, tok, _ = checkpoints.PolicyStore.load(teacher_ckpt)
eval_prompts = list(pipe.student_pipe.prompts(eval_users).values())
kl = {}
with generate.torch_threads(1):
    for name, ckpt in [("student warm start", warm_ckpt),
                       *((m, by_seed[P.seed]) for m, by_seed in students.items())]:
        model, _, _ = checkpoints.PolicyStore.load(ckpt)
        kl[name] = distill.sampled_reverse_kl(model, teacher_model, tok, eval_prompts,
                                              max_new_tokens=P.max_completion_length, seed=P.seed)
timings["kl_seconds"] = time.perf_counter() - started
table = distillation_report.distillation_table(per_user, kl)
reporting.save_table(table, P.profile, "05_distillation")
fig = distillation_report.plot_distillation(table)
reporting.save_figure(fig, P.profile, "05_distillation")
table

# %% [markdown]
# "Gap closed" is (student - no distillation) / (teacher - no distillation) in R@10: 1 means
# the student matches the teacher, 0 that distillation bought nothing over training the
# student with the teacher's own recipe. The paper's students close 68% (supervised) and
# 88% (on-policy) of its gap.

# %% [markdown]
# ## Curves: supervised against on-policy
#
# First seed, Recall@10 of greedy lists for fixed validation users, and the reverse KL to
# the teacher on the student's own samples, against optimisation steps.

# %%
curves = {method: distill.distill_curves(teacher.log_history(students[method][P.seed]))
          for method in ("supervised", "on-policy")}
fig = distillation_report.plot_curves(curves)
reporting.save_figure(fig, P.profile, "05_curves")
pd.concat(curves, names=["method"]).reset_index(level=0).dropna(subset=["recall@10"]).round(3)

# %% [markdown]
# ## Serving efficiency
#
# The same batched greedy generation for teacher and student on this CPU, one list per
# user (N = 1, as in serving), one torch thread. A user's latency is the wall time of the
# batch it was served in.

# %%
started = time.perf_counter()
serving_prompts = list(pipe.student_pipe.prompts(
    W.split_users("test")[: P.n_serving_users]).values())
student_model, _, _ = checkpoints.PolicyStore.load(students["on-policy"][P.seed])
with generate.torch_threads(1):
    speed = {role: distill.serving_speed(m, tok, serving_prompts, P.serving_batch_size,
                                         P.max_completion_length)
             for role, m in (("teacher", teacher_model), ("student", student_model))}
timings["serving_seconds"] = time.perf_counter() - started
serving_table = distillation_report.serving_table(speed, sizes.set_index("role")["params"])
reporting.save_table(serving_table, P.profile, "05_serving")
serving_table

# %% [markdown]
# The speed-up follows the parameter ratio: the paper's teacher is 64x its student, ours
# is the ladder's ratio between the two sizes. Generation of models this small is bound by
# per-token overhead, so the speed-up is well below the parameter ratio.

# %% [markdown]
# ## The student row of the offline table, and the published student
#
# The on-policy student (first seed) is what the A/B notebook serves.

# %%
offline = distillation_report.offline_rows(per_user)
reporting.save_table(offline, P.profile, "05_offline_student_row")
published = publish_policy(P.profile, "student", students["on-policy"][P.seed],
                           P.max_prompt_chars, "05_distillation", P.max_prompt_signals,
                           pipe.student_pipe.decoding.as_dict())
display(offline)
print("published", published)

# %% [markdown]
# ## Key numbers

# %%
results = {
    "profile": P.profile,
    "teacher_model": P.model,
    "student_model": P.student,
    "params": sizes.set_index("role")["params"].to_dict(),
    "seeds": seeds,
    "n_eval_users": len(eval_users),
    "distillation": table.set_index("method").drop(columns=["n"]).to_dict(orient="index"),
    "serving": speed,
    "speedup": speed["student"]["users_per_second"] / speed["teacher"]["users_per_second"],
    "timings_seconds": timings,
}
reporting.write_results(P.profile, "05_distillation", results)
{k: results[k] for k in ("speedup",)} | {m: round(v["R@10"], 4)
                                          for m, v in results["distillation"].items()}
