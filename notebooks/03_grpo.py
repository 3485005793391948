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
# # 03 · The Dr.GRPO teacher, against prompt-only, and the reward ablation
#
# The paper trains Qwen2.5-32B with Dr.GRPO on five rewards to write interest-driven query
# lists, and compares it with the same LLM prompted without RL ("prompt-only"). Pretrained
# weights cannot be downloaded here, so the policy is a small Llama-style model trained from
# scratch on the world's text: first SFT on *surface* demonstrations (copying the user's
# recent cleaned signals) -- our prompt-only row -- then Dr.GRPO on the five rewards of
# notebook 02 (`newsstudy/teacher/grpo.py` states what the run simplifies).
#
# The recipe (model, tokenizer, prompt, demonstrations, SFT, GRPO, decoding, rewards,
# serving) is `params/<profile>/teacher.yaml`, read by 03, 04 and 05 alike.
#
# **Instrument first.** Before the paper's verdict is read, four checks on validation
# users, written to `results/03_grpo.json` under `gates`:
#
# 1. *imitation*: the prompt-only policy reaches 90% of its demonstrations' Recall@10;
# 2. *format*: at least 95% of its lists, and of the teacher's, are well-formed, in the one
#    decoding used for GRPO rollouts and for serving;
# 3. *reward validity*: on the policy's own samples, the reward's pick of G lists beats a
#    random pick in Recall@10;
# 4. *GRPO improves* what it optimises (the reward, on held-out users), without entropy
#    drifting upward.
#
# Then the test users (final numbers only): prompt-only against the RL teacher, paired, and
# the reward ablation.

# %% tags=["parameters"]
profile = "default"
seed = 0
n_seeds = 2
validity_samples = 8
improvement_samples = 4
imitation_sizes = ["xs"]
ablations = ["align", "cov", "spec", "div", "struct"]

# %%
from newsstudy.params import from_namespace

P = from_namespace("03_grpo", globals())

# %%
import dataclasses

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from newsstudy import (
    evaluation,
    gates,
    saving,
    teacher,
)
from newsstudy.policy.published import publish_policy
from newsstudy.results import Paired, keyed
from newsstudy.run import gpu_plan
from newsstudy.teacher import grpo, imitation, reward_validity, setup
from newsstudy.teacher import results as teacher_results
from newsstudy.teacher import tables as teacher_tables
from newsstudy.teacher.results import TeacherResults
from newsstudy.timing import Timings

S = setup.evaluation_setup(P)  # world, reward scorer, serving path, users shared with 04, 05
W, scorer, serving = S.world, S.scorer, S.serving
weights = scorer.weights
# A GPU profile (configs/<profile>/hardware.yaml) moves GRPO onto its GPUs.
pipeline = teacher.PolicyPipeline(W, P, scorer,
                                  grpo_overrides=gpu_plan.grpo_overrides_for(P.profile))
eval_users, val_users = np.array(S.eval_users), np.array(S.val_users)
seeds = [P.seed + i for i in range(P.n_seeds)]
timings, gate = Timings(), {}
parameters = teacher.parameters_of(P.model, P.vocab_size)
print(f"policy {P.model}: {f'{parameters:,}' if parameters else '?'} parameters, "
      f"LoRA rank {P.lora_rank or 'none (every weight trained)'}; decoding {pipeline.decoding}")


# %% [markdown]
# ## The prompt and the demonstrations
#
# The prompt lists the user's distinct cleaned signals, most recent first, each on a line
# named by a pointer token (`<s1>`, `<s2>`, ...), with its domain and how often it came; the
# rubric judge of R_cov reads the same signals. The policy may copy a line by writing its
# pointer (expanded to the line's text before any reward or retrieval sees it) and may
# write words of its own. The demonstrations copy: the first is the `copy` heuristic's list
# (the five most recent signals, whole, as notebook 02's serving path prefers), the others
# draw five of the ten most recent, favouring recent ones, so the prompt-only policy samples
# lists that differ in what they copy.

# %%
val_prompts = pipeline.prompts(val_users)
demos = imitation.demonstrations_of(W, serving, P, val_prompts, val_users)
demo_recall = demos.recall  # the SFT target, per user
display(Markdown(demos.example(int(val_users[0]))))
demos.by_kind().round(4)

# %% [markdown]
# ## Warm start: SFT on the demonstrations (the prompt-only policy)

# %%
ablation_weights = teacher.ablation_weights(weights, P.ablations)
with timings.part("training"):  # every training run of this notebook, two processes at a time
    teacher.train_in_parallel(pipeline, "03_grpo", [P.model, *P.imitation_sizes],
                              [(s, weights) for s in seeds]
                              + [(P.seed, w) for w in ablation_weights.values()])
sft_checkpoint = pipeline.prompt_only()
teacher.sft_losses(sft_checkpoint).tail(3)

# %% [markdown]
# ### Check 1 and 2: imitation and format, in the serving decoding
#
# One decoding serves GRPO rollouts and serving: sampling at the recipe's temperature and
# top-p, with the duplicate-query guard (`newsstudy/policy/decoding.py`). The table shows
# what other decodings would give, for reference only.

# %%
decodings = {"serving (rollouts too)": {}, "greedy": {"greedy": True},
             "serving, no guard": {"guard": False}}
decoding_table, val_outputs, prompt_only_val = imitation.decoding_table(
    lambda users, **overrides: teacher.evaluate_checkpoint(
        pipeline, serving, "prompt-only", sft_checkpoint, P.seed, users, **overrides),
    val_users, demo_recall, val_prompts, decodings)
saving.save_table(decoding_table, P.profile, "03_decoding")
gate["imitation"] = gates.imitation_gate(prompt_only_val["recall@10"], demo_recall)
decoding_table.round(3)

# %%
curve = pd.DataFrame(teacher.imitation_curve(sft_checkpoint))
sizes = teacher.imitation_by_size(pipeline, serving, P.imitation_sizes, val_users, val_prompts,
                                  served=(prompt_only_val, val_outputs["serving (rollouts too)"]))
saving.save_tables(P.profile, {"03_imitation_by_size": sizes, "03_imitation_curve": curve})
saving.save_figure(teacher_tables.plot_imitation(curve, demo_recall.mean(), sizes), P.profile, "03_imitation")
display(Markdown(f"**Imitation gate**: the prompt-only policy reaches "
                 f"{gate['imitation'].ratio:.1%} of its demonstrations' R@10 "
                 f"({gate['imitation'].policy:.4f} vs {gate['imitation'].demonstrations:.4f}, "
                 f"bar 90%): {'passes' if gate['imitation'].passes else 'FAILS'}."))
sizes.round(4)

# %% [markdown]
# ### Check 3: does the reward prefer what retrieves better, on the policy's own samples?
#
# G lists per validation user from the prompt-only policy, each scored by every reward and
# by its held-out Recall@10 (evaluation only). Within a user: the Spearman correlation of
# each reward with R@10, and the gain of the reward's pick over a random pick (paired over
# users). GRPO sees only this within-group ranking.

# %%
with timings.part("validity"):
    samples = reward_validity.sample_table(pipeline, sft_checkpoint, scorer, W, serving,
                                           val_users, P.validity_samples, seed=P.seed + 7,
                                           fusion=P.fusion)
validity = reward_validity.validity_table(samples)
saving.save_table(validity, P.profile, "03_reward_validity")
training_gain = reward_validity.best_of_g_gain(samples, "total")
gate["reward_validity"] = gates.interval_gate(
    training_gain, f"R@10 of the best of {P.validity_samples} by the training reward minus a random pick")
display(Markdown(f"**Reward validity gate** (training reward, weights {weights}): best of "
                 f"{P.validity_samples} by reward minus random pick, {training_gain.text(4)}: "
                 f"{'passes' if gate['reward_validity'].passes else 'FAILS'}."))
validity.round(4)

# %% [markdown]
# ## Dr.GRPO, one run per seed

# %%
teacher_checkpoints = {s: pipeline.teacher(s, weights) for s in seeds}  # trained above
curves = {f"seed {s}": grpo.training_curves(teacher.log_history(c))
          for s, c in teacher_checkpoints.items()}
saving.save_figure(teacher_tables.plot_training_curves(curves), P.profile, "03_grpo_training_curves")
gate["entropy"] = gates.entropy_gate(curves)
pd.concat(curves, names=["run"]).groupby("run").agg(["first", "last"]).T.round(3)

# %% [markdown]
# ### Check 4: GRPO raises what it optimises, on held-out validation users
#
# Each policy writes several lists per validation user (never trained on); a user's total
# reward is their mean. The teacher's seeds are pooled per user.

# %%
improvement = teacher.reward_improvement(pipeline, sft_checkpoint,
                                         list(teacher_checkpoints.values()), val_users,
                                         P.improvement_samples, seed=P.seed + 11)
gate["grpo_improves"] = gates.interval_gate(improvement["total"],
                                            "teacher's total reward minus prompt-only's")
improvement_table = teacher_tables.improvement_table(improvement)
saving.save_table(improvement_table, P.profile, "03_grpo_improvement")
display(Markdown(f"**GRPO improvement gate**: total reward {improvement['total'].text(4)}: "
                 f"{'passes' if gate['grpo_improves'].passes else 'FAILS'}. Entropy gate: "
                 f"{'passes' if gate['entropy'].passes else 'FAILS'} ({gate['entropy'].runs})."))
improvement_table.round(4)

# %% [markdown]
# ## Offline table on the test users: prompt-only vs the RL teacher
#
# One list per test user as served. The `copy` heuristic the demonstrations start from is
# shown for reference, scored the same way.

# %%
with timings.part("eval"):
    per_user, outputs = teacher.offline_evaluation(pipeline, serving, eval_users,
                                                   sft_checkpoint, teacher_checkpoints)
gate["format"] = gates.format_gate({m: imitation.well_formed(outputs[m])
                                    for m in ("prompt-only", "RL teacher")})
saving.save_table(per_user, P.profile, "03_per_user", markdown=False)
offline = teacher_tables.offline_table(per_user)
saving.save_table(offline, P.profile, "03_offline_table")
saving.save_figure(teacher_tables.plot_offline(offline), P.profile, "03_offline_table")
offline

# %%
compared = teacher_tables.offline_comparisons(per_user)
saving.save_tables(P.profile, compared.tables())
display(Markdown(f"RL teacher minus prompt-only, test R@10: {compared.paired.text(4)} "
                 f"(relative {compared.paired.relative:+.1%})."),
        compared.lift, compared.warm_cold, compared.interest)
teacher_tables.seed_table(per_user)

# %% [markdown]
# ## Reward ablation: retrain without each reward
#
# Each run drops one reward (weight 0) and is otherwise identical to the first seed's
# teacher. The paper finds every reward helps and dropping R_cov hurts most (the policy
# then hacks the others). Each row is paired with the full reward on the same test users.

# %%
with timings.part("ablation_eval"):
    ablation_long, ablation_outputs = teacher.ablation_evaluation(
        pipeline, serving, eval_users, per_user, outputs["RL teacher"], ablation_weights)
ablation = teacher_tables.ablation_table(ablation_long)
paired_ablation = (evaluation.paired_table(ablation_long, "method", "recall@10", "all five")
                   if P.ablations else None)
saving.save_tables(P.profile, {"03_reward_ablation": ablation,
                               "03_ablation_paired": paired_ablation})
display(ablation)
paired_ablation  # None when the profile drops no reward

# %%
example_users = [int(u) for u in eval_users[:3]]
examples = teacher_tables.example_outputs(ablation_outputs, example_users)
saving.save_table(examples, P.profile, "03_ablation_examples")
examples

# %% [markdown]
# ## Example users: signals, the prompt-only list, the RL list, and what each retrieves

# %%
for block in teacher_tables.examples_markdown(W, serving, pipeline, outputs, example_users):
    display(Markdown(block))

# %% [markdown]
# ## Key numbers
#
# The instrument's checks come first; the paper's claims about the teacher are read only
# if they pass. The prompt-only policy and the first seed's teacher are published for
# later notebooks (`artifacts/<profile>/published/`).

# %%
display(pd.DataFrame(teacher_results.gate_rows(gate)))
results = TeacherResults(
    profile=P.profile,
    model=P.model,
    parameters=parameters,
    lora_rank=P.lora_rank,
    seeds=seeds,
    n_eval_users=len(eval_users),
    n_val_users=len(val_users),
    decoding=pipeline.decoding.as_dict(),
    gates=gate,
    instrument_ok=all(g.passes for g in gate.values()),
    decoding_table=decoding_table.to_dict(orient="records"),
    imitation_by_size=sizes.to_dict(orient="records"),
    imitation_curve=curve.to_dict(orient="records"),
    demonstrations_recall_at_10=demo_recall.mean(),
    reward_validity=teacher_results.validity_rows(validity),
    grpo_improvement={k: Paired.of(v) for k, v in improvement.items()},
    weights=dataclasses.asdict(weights),
    offline=teacher_results.offline_rows(evaluation.summarise(per_user), offline),
    rl_minus_prompt_only=Paired.of(compared.paired, candidate="RL teacher",
                                   reference="prompt-only", metric="recall@10"),
    lift_rl_over_prompt_only=teacher_results.lift_values(compared.lift),
    ablation=teacher_results.ablation_rows(ablation),
    ablation_paired=teacher_results.paired_rows(paired_ablation) if P.ablations else [],
    interest_quality=teacher_results.interest_rows(compared.interest),
    format_ok=keyed({m: imitation.well_formed(o) for m, o in outputs.items()}),
    timings_seconds=timings,
    training_seconds_recorded={
        "sft": teacher.training_seconds(sft_checkpoint),
        "grpo_per_seed": [teacher.training_seconds(c) for c in teacher_checkpoints.values()],
    },
)
saving.write_results(P.profile, "03_grpo", results)
for name, checkpoint in (("prompt_only", sft_checkpoint), ("teacher", teacher_checkpoints[P.seed])):
    publish_policy(P.profile, name, checkpoint, P.max_prompt_chars, "03_grpo",
                   P.max_prompt_signals, pipeline.decoding.as_dict())
results.model_dump(include={"instrument_ok", "rl_minus_prompt_only"})
