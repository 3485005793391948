"""Scoring reference strategies with the rewards and the retrieval metrics (notebook 02)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import spearmanr

from newsstudy.evaluation import evaluate_completions
from newsstudy.metrics import mean_with_ci
from newsstudy.rewards import REWARD_NAMES, RewardScorer
from newsstudy.world.strategies import StrategyContext, completions_for

QUALITY = ("recall@10", "ndcg@10")


def score_strategies(world, scorer: RewardScorer, serving, ctx: StrategyContext,
                     users: Sequence[int], strategies: Mapping[str, object],
                     fusion: str) -> pd.DataFrame:
    """Long table: one row per (strategy, user) with the five rewards, total and metrics."""
    frames = []
    for name, strategy in strategies.items():
        completions = completions_for(ctx, strategy, users)
        rewards = scorer.score(list(completions.index), list(completions.values))
        rewards.index = completions.index
        metrics = evaluate_completions(world, serving, completions.to_dict(), fusion=fusion)
        joined = rewards.join(metrics, how="inner")
        frames.append(joined.assign(strategy=name, completion=completions.reindex(joined.index)))
    return pd.concat(frames).rename_axis("user").reset_index()


def strategy_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean of every reward, the total and the metrics per strategy (95% CI for recall)."""
    columns = [*REWARD_NAMES, "total", *QUALITY]
    table = scores.groupby("strategy", sort=False)[columns].mean()
    ci = scores.groupby("strategy", sort=False)["recall@10"].apply(
        lambda v: mean_with_ci(v.to_numpy())[1:])
    table["recall@10 95% CI"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in ci]
    return table.reset_index()


def reward_correlations(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of each reward (and the total) with Recall@10 and NDCG@10.

    ``pooled``: over all (user, strategy) pairs. ``within user``: across strategies for
    the same user, averaged over users -- what a group-relative advantage (GRPO) sees.
    """
    rows = []
    for reward in (*REWARD_NAMES, "total"):
        row = {"reward": reward}
        for metric in QUALITY:
            row[f"pooled vs {metric}"] = _spearman(scores[reward], scores[metric])
            per_user = [_spearman(g[reward], g[metric]) for _, g in scores.groupby("user")]
            row[f"within user vs {metric}"] = float(np.nanmean(per_user)) if per_user else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _spearman(x: pd.Series, y: pd.Series) -> float:
    if x.nunique() < 2 or y.nunique() < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def hack_table(scores: pd.DataFrame, reference: str, hack_prefix: str = "hack: ") -> pd.DataFrame:
    """For each reward's hack: its score on that reward and its recall, beside the reference."""
    means = scores.groupby("strategy")[[*REWARD_NAMES, *QUALITY]].mean()
    rows = []
    for reward in REWARD_NAMES:
        name = f"{hack_prefix}{reward}"
        if name not in means.index:
            continue
        rows.append({
            "reward hacked": reward, "hack": name,
            f"{reward} (hack)": means.loc[name, reward],
            f"{reward} ({reference})": means.loc[reference, reward],
            "recall@10 (hack)": means.loc[name, "recall@10"],
            f"recall@10 ({reference})": means.loc[reference, "recall@10"],
        })
    frame = pd.DataFrame(rows)
    frame["hacked reward"] = [r[f"{r['reward hacked']} (hack)"] for _, r in frame.iterrows()]
    frame["same reward, reference"] = [r[f"{r['reward hacked']} ({reference})"]
                                       for _, r in frame.iterrows()]
    return frame[["reward hacked", "hack", "hacked reward", "same reward, reference",
                  "recall@10 (hack)", f"recall@10 ({reference})"]]


def plot_strategies(table: pd.DataFrame):
    """Rewards (stacked) and Recall@10 per strategy, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(table) + 1.5), sharey=True)
    ordered = table.set_index("strategy")
    ordered[list(REWARD_NAMES)].plot(kind="barh", stacked=True, ax=axes[0], width=0.75,
                                     color=sns.color_palette("deep", len(REWARD_NAMES)))
    axes[0].set_xlabel("reward (sum of five, each in [0, 1])")
    axes[0].set_title("Rewards per strategy")
    axes[0].legend(title="reward", loc="lower right", fontsize=8)
    axes[1].barh(ordered.index, ordered["recall@10"], color=sns.color_palette("deep")[0])
    axes[1].set_xlabel("Recall@10 on held-out clicks")
    axes[1].set_title("Retrieval quality")
    axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def plot_reward_vs_recall(scores: pd.DataFrame):
    """Each reward and the total against Recall@10, one point per (user, strategy)."""
    columns = [*REWARD_NAMES, "total"]
    fig, axes = plt.subplots(1, len(columns), figsize=(3.0 * len(columns), 3.2), sharey=True)
    sample = scores.sample(min(len(scores), 3000), random_state=0)
    for ax, reward in zip(axes, columns, strict=True):
        sns.scatterplot(sample, x=reward, y="recall@10", hue="strategy", ax=ax, s=10,
                        alpha=0.4, legend=reward == "total", linewidth=0)
        ax.set_xlabel(f"R_{reward}" if reward != "total" else "total reward")
    axes[0].set_ylabel("Recall@10")
    axes[-1].legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=7, markerscale=2)
    fig.suptitle("Rewards against retrieval quality (one point per user and strategy)", y=1.03)
    return fig
