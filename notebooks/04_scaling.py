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
# # 04 · Compute scaling: model capacity and best-of-N sampling
#
# The paper studies two ways to spend compute on the RL teacher: a larger model (Qwen2.5
# from 0.5B to 32B, quality rising with size), and sampling N lists per user and keeping
# the one the composite reward likes best (most of the gain by N = 4). We run the same two
# experiments on the ladder of small from-scratch models, and ask a question the paper
# leaves open: per unit of inference compute, is a larger model or more samples the
# better buy?
#
# Every size runs the full recipe of notebook 03 (SFT warm start, then Dr.GRPO with the
# five rewards), same data, same seed, with the size's own documented learning rates and
# epochs (`newsstudy/policy/ladder.py`); to keep five sizes affordable on a CPU, on fewer
# training users and GRPO steps than 03 (`capacity_train_users`, `capacity_grpo_steps`).
# Best-of-N samples 03's RL teacher itself, reused from the cache. Evaluation is the shared
# protocol of 03.

# %% tags=["parameters"]
profile = "default"
seed = 0
sizes = ["xs", "s", "m", "l", "xl"]
capacity_train_users = 500
capacity_grpo_steps = 20
n_eval_users = 200
best_of_n = [1, 2, 4, 8, 16, 32]
sizes_best_of_n = [1, 2, 4, 8]
sample_temperature = 1.0
n_draws = 16

# %%
from newsstudy.params import from_namespace

P = from_namespace("04_scaling", globals())

# %%
import time

import numpy as np
import pandas as pd
from IPython.display import display

from newsstudy import data, evaluation, reporting, rewards, scaling, scaling_report, teacher
from newsstudy.policy import ladder

reporting.set_style()
W = data.load_world(P.profile)
scorer = rewards.RewardScorer.from_settings(W, P)
weights = scorer.weights
serving = evaluation.serving_retriever(W, P.serving_embedder, P.index_kind)
eval_users = np.random.default_rng(P.seed).permutation(W.split_users("test"))[: P.n_eval_users]
eval_users = [int(u) for u in eval_users]
timings = {}
capacity_settings = P.model_copy(update={"n_train_users": P.capacity_train_users,
                                         "grpo_steps": P.capacity_grpo_steps})
pipelines = {size: teacher.PolicyPipeline(W, teacher.settings_for_size(capacity_settings, size),
                                          scorer) for size in P.sizes}
teacher_pipeline = teacher.PolicyPipeline(W, P, scorer)
pd.DataFrame(ladder.ladder_table(P.vocab_size)).set_index("name").loc[P.sizes]

# %% [markdown]
# ## Model capacity: the full recipe at every size
#
# Training compute is estimated as 6 x parameters x tokens processed (SFT and GRPO, as
# logged by the trainers; GRPO's sampling is counted as training tokens too). Wall time is
# what each checkpoint's training took when it was made (cached runs keep it).

# %%
started = time.perf_counter()
checkpoints = {size: pipe.teacher(P.seed, weights) for size, pipe in pipelines.items()}
timings["training_seconds"] = time.perf_counter() - started


def trained_tokens(checkpoint) -> float:
    """Tokens the trainer processed for one checkpoint (last logged running count)."""
    counts = [h["num_tokens"] for h in teacher.log_history(checkpoint) if "num_tokens" in h]
    return float(counts[-1]) if counts else 0.0


facts = []
for size, pipe in pipelines.items():
    n_params = ladder.parameter_count(size, len(pipe.tokenizer()))
    sft_ckpt = pipe.prompt_only()
    tokens = trained_tokens(sft_ckpt) + trained_tokens(checkpoints[size])
    facts.append({"size": size, "params": n_params,
                  "train_flops": scaling.training_flops(n_params, tokens),
                  "train_seconds": teacher.training_seconds(sft_ckpt)
                  + teacher.training_seconds(checkpoints[size])})
facts = pd.DataFrame(facts).set_index("size").sort_values("params")

started = time.perf_counter()
frames = []
for size in facts.index:
    frame, _ = evaluation.evaluate_policy(W, serving, pipelines[size].policy(checkpoints[size]),
                                          eval_users, fusion=P.fusion)
    frames.append(frame.rename_axis("user").reset_index().assign(size=size))
capacity_per_user = pd.concat(frames)
timings["capacity_eval_seconds"] = time.perf_counter() - started
capacity = scaling_report.capacity_table(capacity_per_user, facts)
fit = scaling.fit_log_linear(
    capacity["params"],
    [capacity_per_user.loc[capacity_per_user["size"] == s, "recall@10"].to_numpy()
     for s in capacity["size"]], seed=P.seed)
reporting.save_table(capacity, P.profile, "04_capacity")
reporting.save_table(scaling_report.paper_capacity_table(), P.profile, "04_capacity_paper")
fig = scaling_report.plot_capacity(capacity, fit)
reporting.save_figure(fig, P.profile, "04_capacity")
display(capacity.round(4))
fit

# %% [markdown]
# The fitted slope is the gain in Recall@10 per tenfold parameters, with a bootstrap 95%
# interval over test users. An interval that includes 0 means this study cannot tell
# whether size helps at all on this data.

# %% [markdown]
# ## Inference-time sampling: best-of-N from the RL teacher
#
# 03's RL teacher (first seed). For every test user we sample the largest N lists once, at
# the sampling temperature, and
# estimate best-of-N for each smaller N by averaging over random N-subsets. Three ways to
# use N lists: keep the one the composite reward scores highest (no ground truth needed,
# the paper's method); keep the one with the best Recall@10 (an oracle, an upper bound);
# fuse all N into one ranking (the union).

# %%
started = time.perf_counter()
samples, counts = {}, {}


def draw(name, pipeline, checkpoint, n):
    texts = pipeline.complete(checkpoint, eval_users, n_samples=n, greedy=False,
                              temperature=P.sample_temperature, seed=P.seed, return_counts=True)
    samples[name] = {u: t for u, (t, _) in texts.items()}
    counts[name] = {u: c for u, (_, c) in texts.items()}


draw("teacher", teacher_pipeline, teacher_pipeline.teacher(P.seed, weights), max(P.best_of_n))
for size in facts.index:
    draw(size, pipelines[size], checkpoints[size], max(P.sizes_best_of_n))
timings["sampling_seconds"] = time.perf_counter() - started

started = time.perf_counter()
scored = {name: scaling.score_samples(W, serving, scorer, texts, fusion=P.fusion)
          for name, texts in samples.items()}
teacher_scored = scored["teacher"]
selected = scaling.best_of_n(teacher_scored, P.best_of_n, "total", ("recall@10", "ndcg@10"),
                             P.n_draws, P.seed)
oracle = scaling.best_of_n(teacher_scored, P.best_of_n, "recall@10", ("recall@10", "ndcg@10"),
                           P.n_draws, P.seed)
union = scaling.union_scores(W, serving, samples["teacher"], P.best_of_n, fusion=P.fusion)
tokens = {n: float(np.mean([sum(c[:n]) for c in counts["teacher"].values()]))
          for n in P.best_of_n}
best_table = scaling_report.best_of_n_table(selected, oracle, union, tokens)
timings["best_of_n_seconds"] = time.perf_counter() - started
reporting.save_table(best_table, P.profile, "04_best_of_n")
fig = scaling_report.plot_best_of_n(best_table)
reporting.save_figure(fig, P.profile, "04_best_of_n")
best_table.round(4)

# %% [markdown]
# How much of the gain comes early: the share of the N = max gain (reward-picked, over
# N = 1) already reached at each N. The paper's curve reaches 77% of its gain by N = 4.

# %%
gain = best_table["R@10 reward-picked"] - best_table["R@10 reward-picked"].iloc[0]
paper_gain = best_table["R@10 paper"] - best_table["R@10 paper"].iloc[0]
share = pd.DataFrame({"N": best_table["N"],
                      "ours: share of gain": gain / gain.iloc[-1] if gain.iloc[-1] else np.nan,
                      "paper: share of gain": paper_gain / paper_gain.iloc[-1]})
reporting.save_table(share, P.profile, "04_best_of_n_gain_share")
share.round(3)

# %% [markdown]
# ## Beyond the paper: quality per unit of inference compute
#
# Every size of the capacity study, sampled N times and picked by the composite reward.
# Inference compute per
# user is 2 x parameters x (prompt tokens + generated tokens) per list, times N (the
# reward's own cost is left out: it is the same small embedder for every size).

# %%
prompt_tokens = {}
points = []
for size in facts.index:
    tok = pipelines[size].tokenizer()
    prompts_ = pipelines[size].prompts(eval_users)
    prompt_tokens[size] = float(np.mean([len(ids) for ids in tok(
        list(prompts_.values()), add_special_tokens=False)["input_ids"]]))
    ns = P.sizes_best_of_n
    picked = scaling.best_of_n(scored[size], ns, "total", ("recall@10", "ndcg@10"),
                               P.n_draws, P.seed).groupby("n")[["recall@10", "ndcg@10"]].mean()
    per_list = float(np.mean([np.mean(c) for c in counts[size].values()]))
    for n in ns:
        points.append({"size": size, "params": facts.loc[size, "params"], "n": n,
                       "recall@10": picked.loc[n, "recall@10"],
                       "ndcg@10": picked.loc[n, "ndcg@10"],
                       "flops_per_user": n * scaling.inference_flops(
                           facts.loc[size, "params"], prompt_tokens[size], per_list)})
points = pd.DataFrame(points)
reporting.save_table(points, P.profile, "04_compute_frontier")
fig = scaling_report.plot_compute_frontier(points)
reporting.save_figure(fig, P.profile, "04_compute_frontier")
matches = scaling_report.matches_at_lower_compute(points)
reporting.save_table(matches, P.profile, "04_small_model_matches")
matches

# %%
answer = []
for _, row in matches.iterrows():
    if row["matched by"] == "none":
        answer.append(f"No smaller size with best-of-N (N <= {max(P.sizes_best_of_n)}) reaches "
                      f"{row['size at N=1']} at N = 1 (R@10 {row['its R@10']:.3f}).")
    else:
        answer.append(f"{row['matched by']} with N = {row['N']} (R@10 {row['R@10']:.3f}) matches "
                      f"{row['size at N=1']} at N = 1 (R@10 {row['its R@10']:.3f}) with "
                      f"{row['FLOPs ratio']:.2f}x its inference FLOPs.")
print("\n".join(answer))

# %% [markdown]
# ## Key numbers

# %%
results = {
    "profile": P.profile,
    "teacher_model": P.model,
    "capacity_train_users": P.capacity_train_users,
    "capacity_grpo_steps": P.capacity_grpo_steps,
    "sizes": list(facts.index),
    "n_eval_users": len(eval_users),
    "capacity": capacity.set_index("size")[
        ["params", "recall@10", "recall@10 low", "recall@10 high", "ndcg@10", "ndcg@10 low",
         "ndcg@10 high", "train_flops", "train_seconds", "R@10 relative"]].to_dict(orient="index"),
    "capacity_fit": fit,
    "param_span": float(capacity["params"].max() / capacity["params"].min()),
    "best_of_n": best_table.set_index("N").to_dict(orient="index"),
    "best_of_n_gain_share": share.set_index("N")["ours: share of gain"].to_dict(),
    "compute_frontier": points.to_dict(orient="records"),
    "small_model_matches": answer,
    "timings_seconds": timings,
}
reporting.write_results(P.profile, "04_scaling", results)
{k: results[k] for k in ("capacity_fit", "param_span", "small_model_matches")}
