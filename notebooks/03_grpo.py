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
# # 03 · Two RL teachers against prompt-only: the paper's five rewards and a verifiable one
#
# The paper trains Qwen2.5-32B with Dr.GRPO on five rewards to write interest-driven query
# lists, and compares it with the same LLM prompted without RL ("prompt-only"). Pretrained
# weights cannot be downloaded here, so the policy is a small Llama-style model trained
# from scratch on the world's text (`newsstudy/teacher/grpo.py` states what the run
# simplifies).
#
# **What the policy is given.** Its prompt lists the user's cleaned signals and, above
# them, eight *interest candidates*: queries that a heuristic writes from the same signals
# and the corpus (`newsstudy/policy/interests.py`). The policy writes a list by pointing
# at lines (candidates or signals) or in its own words. The paper's 32B model aggregates
# interests in its own words; ours cannot (its own-word lists retrieved half what copying
# did), so RL here learns *which* interests and signals to ask about, not how to name an
# interest. Its warm start (SFT, our prompt-only row) imitates lists that copy the recent
# signals or mix them with candidates drawn at random, so its samples vary in quality
# and RL has something to choose among.
#
# **Two teachers from that warm start, with the same budget**: Dr.GRPO on the paper's five
# rewards (equal weights), and Dr.GRPO on a *verifiable* reward: what the list retrieves,
# on the serving path, of a training user's own clicks in the last days of their history
# (their prompt built from the days before; `newsstudy/rewards/verifiable.py`). The recipe
# (`params/<profile>/teacher.yaml`, read by 03, 04 and 05) names the one that feeds 04-06.
#
# **Instrument first.** Before a verdict is read, checks on validation users, written to
# `results/03_grpo.json` under `gates`: imitation and format of the prompt-only policy;
# for each reward, whether it prefers the policy's better lists (reward validity) and
# whether RL raised it on users it never saw; and whether the teacher that feeds 04-06
# beats prompt-only and closes at least half its gap to the `infer` heuristic. Then the
# test users (final numbers only), and the reward ablation.

# %% tags=["parameters"]
from typing import Optional

# Values left None come from params/<profile>/ (`newsstudy list 03_grpo` shows each
# value, its file and its meaning). A value set here, in `overrides` or with `-p` replaces
# the profile's, and the run then writes to a variant, reports/<profile>+<name>/.
profile: str = "default"  # the profile whose values a parameter left None takes
variant: Optional[str] = None  # the variant's name (None: named after the changed values)
seed: Optional[int] = None  # Seed for every random choice
n_seeds: Optional[int] = None  # Training seeds of the RL teacher
teacher_reward: Optional[str] = None  # Reward of the teacher that feeds 04-06: "paper" or "verifiable"
grpo_steps: Optional[int] = None  # Dr.GRPO optimisation steps
grpo_learning_rate: Optional[float] = None  # Dr.GRPO learning rate
verifiable_learning_rate: Optional[float] = None  # Dr.GRPO learning rate with the verifiable reward
users_per_step: Optional[int] = None  # Users (prompts) per GRPO step
num_generations: Optional[int] = None  # G: lists sampled per user
beta: Optional[float] = None  # KL coefficient to the SFT policy
ablations: Optional[list] = None  # Rewards to drop one at a time
overrides: dict = {}  # any other parameter by name, e.g. {"model": ...}

# %%
from newsstudy.params import from_namespace

P = from_namespace("03_grpo", globals())

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from newsstudy import gates, saving, teacher
from newsstudy.policy import hardware
from newsstudy.policy.published import publish_policy
from newsstudy.rewards import verifiable
from newsstudy.teacher import (
    ablation,
    comparison,
    composition,
    grpo,
    imitation,
    reward_validity,
    setup,
)
from newsstudy.teacher import results as teacher_results
from newsstudy.teacher import tables as teacher_tables
from newsstudy.timing import Timings

S = setup.evaluation_setup(P)  # world, reward scorer, serving path, users shared with 04, 05
W, serving = S.world, S.serving
# A GPU profile (configs/<profile>/hardware.yaml) moves GRPO onto its GPUs.
pipeline = teacher.PolicyPipeline(W, P, None, grpo_overrides=hardware.grpo_overrides_for(P.profile))
eval_users, val_users = np.array(S.eval_users), np.array(S.val_users)
seeds = [P.seed + i for i in range(P.n_seeds)]
names = teacher_tables.TEACHER_NAMES  # reward -> the teacher's row name
timings, gate = Timings(), {}
parameters = teacher.parameters_of(P.model, P.vocab_size)
print(f"policy {P.model}: {f'{parameters:,}' if parameters else '?'} parameters; decoding "
      f"{pipeline.decoding}; the teacher that feeds 04-06: {names[P.teacher_reward]}")

# %% [markdown]
# ## The prompt and the demonstrations

# %%
val_prompts = pipeline.prompts(val_users)
demos = imitation.demonstrations_of(W, serving, P, val_prompts, val_users)
demo_recall = demos.recall  # the SFT target, per user
display(Markdown(demos.example(int(val_users[0]))))
demos.by_kind().round(4)

# %% [markdown]
# ## Training: the warm start, both teachers, the reward ablation
#
# Every run, two processes at a time: the warm start (SFT), each teacher's seeds, and one
# run of the paper's reward without each of its rewards (first seed).

# %%
weights = S.scorer.weights
ablation_weights = ablation.weights_without(weights, P.ablations)
runs = ([(s, weights, "paper") for s in seeds] + [(s, None, "verifiable") for s in seeds]
        + [(P.seed, w, "paper") for w in ablation_weights.values()])
with timings.part("training"):
    teacher.train_in_parallel(pipeline, [P.model, *P.imitation_sizes], runs)
sft_checkpoint = pipeline.prompt_only()
teachers = {reward: {s: pipeline.teacher(s, weights, reward) for s in seeds}
            for reward in teacher.REWARDS}  # trained above: read from the cache
teacher.sft_losses(sft_checkpoint).tail(3)

# %% [markdown]
# ### Checks 1 and 2: imitation and format, in the serving decoding

# %%
decodings = {"serving (rollouts too)": {}, "greedy": {"greedy": True}}
decoding_table, val_outputs, prompt_only_val = imitation.decoding_table(
    lambda users, **overrides: teacher.evaluate_checkpoint(
        pipeline, serving, "prompt-only", sft_checkpoint, P.seed, users, **overrides),
    val_users, demo_recall, val_prompts, decodings)
saving.save_table(decoding_table, P.profile, "03_decoding")
gate["imitation"] = gates.imitation_gate(prompt_only_val["recall@10"], demo_recall)
curve = pd.DataFrame(teacher.imitation_curve(sft_checkpoint))
sizes = teacher.imitation_by_size(pipeline, serving, P.imitation_sizes, val_users, val_prompts,
                                  served=(prompt_only_val, val_outputs["serving (rollouts too)"]))
saving.save_tables(P.profile, {"03_imitation_by_size": sizes, "03_imitation_curve": curve})
saving.save_figure(teacher_tables.plot_imitation(curve, demo_recall.mean(), sizes), P.profile,
                   "03_imitation")
display(Markdown(teacher_tables.gate_sentence("Imitation", gate["imitation"])))
decoding_table.round(3)

# %% [markdown]
# ### Check 3: does each reward prefer what retrieves better, on the policy's own samples?
#
# G lists per validation user from the prompt-only policy, each scored by every reward and
# by its held-out Recall@10 (evaluation only). Within a user: the Spearman correlation
# with R@10, the gain of the reward's pick over a random pick (paired over users), and the
# share of users whose G lists all tie (no advantage, nothing learned). The verifiable
# reward's lists come from the prompts before its target window and are scored against
# the users' own clicks in it.

# %%
with timings.part("validity"):
    samples = reward_validity.sample_table(pipeline, sft_checkpoint, S.scorer, W, serving,
                                           val_users, P.validity_samples, seed=P.seed + 7,
                                           fusion=P.fusion)
    window_samples = reward_validity.verifiable_sample_table(
        pipeline, sft_checkpoint, W, serving, val_users, P.validity_samples, seed=P.seed + 7)
validity = pd.concat([reward_validity.validity_table(samples),
                      reward_validity.validity_table(window_samples, ["retrieval"])
                      .replace({"reward": {"retrieval": "verifiable"}})], ignore_index=True)
saving.save_table(validity, P.profile, "03_reward_validity")
for name, table, column in (("reward_validity", samples, "total"),
                            ("verifiable_validity", window_samples, "retrieval")):
    gate[name] = gates.interval_gate(reward_validity.best_of_g_gain(table, column),
                                     f"R@10 of the best of {P.validity_samples} by the "
                                     f"{'paper' if column == 'total' else 'verifiable'} "
                                     f"reward minus a random pick")
validity.round(4)

# %% [markdown]
# ## Dr.GRPO: the training curves of both teachers

# %%
curves = {f"{names[r]}, seed {s}": grpo.training_curves(teacher.log_history(c))
          for r, runs_of in teachers.items() for s, c in runs_of.items()}
saving.save_figure(teacher_tables.plot_training_curves(curves), P.profile,
                   "03_grpo_training_curves")
gate["entropy"] = gates.entropy_gate(curves)
run_table = teacher_tables.run_table(curves)
saving.save_table(run_table, P.profile, "03_grpo_runs")
run_table.round(4)

# %% [markdown]
# ### Check 4: each teacher raises what it optimises, on held-out validation users
#
# Every policy writes several lists per validation user (never trained on), once; the
# paper's rewards score those from the whole-history prompts, the verifiable reward those
# from the prompts before its window. A user's reward is the mean over their lists; a
# teacher's seeds are pooled per user.

# %%
policies = {"prompt-only": {P.seed: sft_checkpoint}, **{names[r]: c for r, c in teachers.items()}}
window_reward = verifiable.RetrievalReward.from_settings(W, P, val_users, checks=True)
window_users = [u for u in val_users.tolist() if u in window_reward.targets]
window_prompts = pipeline.window_prompts(window_users)
with timings.part("improvement"):
    full = {(name, s): comparison.sample_lists(pipeline, c, val_users, P.improvement_samples,
                                               seed=P.seed + 11)
            for name, runs_of in policies.items() for s, c in runs_of.items()}
    window = {(name, s): comparison.sample_lists(pipeline, c, window_users,
                                                 P.improvement_samples, seed=P.seed + 11,
                                                 user_prompts=window_prompts)
              for name, runs_of in policies.items() for s, c in runs_of.items()}
    paper_rewards = {key: teacher.mean_rewards_of(S.scorer, lists) for key, lists in full.items()}
    window_rewards = {key: comparison.mean_reward(window_reward, lists)
                      for key, lists in window.items()}
improvement = teacher_tables.improvements(paper_rewards, window_rewards, names)
gate["grpo_improves"] = gates.interval_gate(improvement["paper: total"],
                                            "paper teacher's total reward minus prompt-only's")
gate["verifiable_improves"] = gates.interval_gate(
    improvement["verifiable: retrieval"], "verifiable teacher's reward minus prompt-only's")
improvement_table = teacher_tables.improvement_table(improvement)
saving.save_table(improvement_table, P.profile, "03_grpo_improvement")
improvement_table.round(4)

# %% [markdown]
# ### Check 5: does the teacher beat prompt-only, and close half its gap to `infer`?
#
# Held-out Recall@10 of the same validation lists (the mean over a user's lists) against
# the prompt-only policy's, and the share of the gap between prompt-only and the `infer`
# heuristic (notebook 02's interest heuristic: topics of the user's signals, their
# repeated words) that each teacher closes. The teacher that feeds 04-06 must beat
# prompt-only (paired interval above 0) and close at least half the gap.

# %%
infer_lists = teacher.heuristic_lists(W, val_users, P.n_queries, P.seed)["infer (heuristic)"]
infer_recall = comparison.mean_recall(W, serving, comparison.Samples(
    {u: [t] for u, t in infer_lists.items()}, {u: [t] for u, t in infer_lists.items()}, {}),
    P.fusion)
recall = {key: comparison.mean_recall(W, serving, lists, P.fusion) for key, lists in full.items()}
closed = {reward: comparison.gap_closed(
    comparison.pooled([recall[(names[reward], s)] for s in seeds]),
    recall[("prompt-only", P.seed)], infer_recall) for reward in teacher.REWARDS}
gap_table = teacher_tables.gap_table(closed, names)
saving.save_table(gap_table, P.profile, "03_gap_closed")
headline = closed[P.teacher_reward]
gate["beats_prompt_only"] = gates.interval_gate(
    headline.teacher_minus_prompt_only,
    f"validation R@10 of the {names[P.teacher_reward]} minus prompt-only's")
gate["half_gap"] = gates.share_gate(headline, f"{names[P.teacher_reward]}: share of the "
                                              f"prompt-only-to-infer gap closed")
display(Markdown(teacher_tables.headline_sentence(closed, names, P.teacher_reward)))
gap_table.round(4)

# %% [markdown]
# ### What the lists are made of
#
# Per query, where it came from: one pointer to an interest candidate, to a copied signal,
# words of the policy's own, or a mix (`newsstudy/teacher/composition.py`); and how many
# queries each list spends per latent interest it reaches (evaluation only).

# %%
made_of = composition.composition_table(
    {f"{name} (seed {s})" if name != "prompt-only" else name: lists.raw
     for (name, s), lists in full.items()}, val_prompts)
saving.save_table(made_of, P.profile, "03_composition")
made_of.round(3)

# %% [markdown]
# ## Test users: prompt-only, both teachers, and the reference heuristics
#
# One list per test user as served, every seed; the `copy` and `infer` heuristics are
# scored the same way for reference.

# %%
with timings.part("eval"):
    per_user, outputs = teacher.offline_evaluation(
        pipeline, serving, eval_users, sft_checkpoint,
        {names[r]: runs_of for r, runs_of in teachers.items()})
gate["format"] = gates.format_gate({m: imitation.well_formed(outputs[m])
                                    for m in ("prompt-only", *names.values())})
saving.save_table(per_user, P.profile, "03_per_user", markdown=False)
offline = teacher_tables.offline_table(per_user)
saving.save_table(offline, P.profile, "03_offline_table")
saving.save_figure(teacher_tables.plot_offline(offline), P.profile, "03_offline_table")
offline

# %% [markdown]
# ### Each teacher against prompt-only, and the paper's reward against the verifiable one
#
# Paired over the same test users; `captured` is the share of the verifiable teacher's
# gain over prompt-only that the paper's reward teacher reaches (bootstrap interval).

# %%
compared = teacher_tables.offline_comparisons(per_user)
saving.save_tables(P.profile, compared.tables())
display(Markdown(compared.summary()), compared.lift, compared.warm_cold, compared.interest)
teacher_tables.seed_table(per_user)

# %% [markdown]
# ## Reward ablation: retrain the paper's teacher without each reward
#
# Each run drops one reward (weight 0) and is otherwise identical to the first seed of the
# paper's teacher. The paper finds every reward helps and dropping R_cov hurts most.

# %%
with timings.part("ablation_eval"):
    ablation_long, ablation_outputs = ablation.evaluate(
        pipeline, serving, eval_users, per_user, outputs[names["paper"]], ablation_weights,
        method=names["paper"])
ablation_rows = teacher_tables.ablation_table(ablation_long)
paired_ablation = (ablation.paired(ablation_long) if P.ablations else None)
saving.save_tables(P.profile, {"03_reward_ablation": ablation_rows,
                               "03_ablation_paired": paired_ablation})
display(ablation_rows)
paired_ablation  # None when the profile drops no reward

# %% [markdown]
# ## Example users: signals, each policy's list, what it retrieves

# %%
example_users = [int(u) for u in eval_users[:2]]
for block in teacher_tables.examples_markdown(W, serving, pipeline, outputs, example_users,
                                              ("prompt-only", *names.values())):
    display(Markdown(block))

# %% [markdown]
# ## Key numbers
#
# The instrument's checks come first; the paper's claims about the teacher are read only
# if they pass. The prompt-only policy and the recipe's teacher (first seed) are published
# for later notebooks (`artifacts/<profile>/published/`).

# %%
results = teacher_results.build(
    P, parameters, seeds, eval_users, val_users, pipeline.decoding, gate, decoding_table,
    sizes, curve, demo_recall, validity, improvement, closed, made_of, per_user, offline,
    compared, ablation_rows, paired_ablation, outputs, run_table, timings, sft_checkpoint, teachers)
saving.write_results(P.profile, "03_grpo", results)
for name, checkpoint in (("prompt_only", sft_checkpoint),
                         ("teacher", teachers[P.teacher_reward][P.seed])):
    publish_policy(P.profile, name, checkpoint, P.max_prompt_chars, "03_grpo",
                   P.max_prompt_signals, pipeline.decoding.as_dict(),
                   prompt_candidates=P.prompt_candidates)
display(pd.DataFrame(teacher_results.gate_rows(gate)))
results.model_dump(include={"instrument_ok", "feeds_04_06", "rl_minus_prompt_only",
                            "verifiable_minus_prompt_only"})
