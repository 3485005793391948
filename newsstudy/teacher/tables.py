"""Tables and figures of notebook 03_grpo: the LLM rows, training curves, reward ablation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from newsstudy import paper
from newsstudy.evaluation import PairedDifference, summarise
from newsstudy.metrics import DEFAULT_METRICS, METRIC_LABELS
from newsstudy.output_format import parse_completion
from newsstudy.saving import PAPER_COLOR

# The paper's LLM rows of the offline table and its reward ablation (newsstudy.paper).
PAPER_ROWS = {ours: paper.OFFLINE[row] for ours, row in paper.LLM_ROW_OF.items()}


def offline_table(per_user: pd.DataFrame, published: Mapping[str, Mapping[str, float]] = PAPER_ROWS
                  ) -> pd.DataFrame:
    """Ours (mean and 95% CI over test users, pooled over seeds) beside the paper, per method.

    ``seeds`` and ``R@10 seed std`` (the standard deviation of the per-seed means, blank
    for one seed) say how much a trained number moves with the seed alone: a difference
    between two machines or two runs is read against it.
    """
    ours = summarise(per_user, by="method")
    per_seed = per_user.groupby(["method", "seed"])["recall@10"].mean().groupby(level="method")
    rows = []
    for _, row in ours.iterrows():
        spread = per_seed.get_group(row["method"])
        out = {"method": row["method"], "n": int(row["n"]), "seeds": int(len(spread)),
               "R@10 seed std": float(spread.std(ddof=1)) if len(spread) > 1 else np.nan}
        for metric in DEFAULT_METRICS:
            label = METRIC_LABELS[metric]
            out[label] = row[metric]
            out[f"{label} 95% CI"] = f"[{row[f'{metric} low']:.3f}, {row[f'{metric} high']:.3f}]"
            out[f"{label} paper"] = published.get(row["method"], {}).get(metric, np.nan)
        rows.append(out)
    return pd.DataFrame(rows)


def lift_table(per_user: pd.DataFrame, base: str, treated: str) -> pd.DataFrame:
    """Relative lift of ``treated`` over ``base`` per metric (ours beside the paper's)."""
    means = per_user.groupby("method")[list(DEFAULT_METRICS)].mean()
    rows = []
    for metric in DEFAULT_METRICS:
        ours = means.loc[treated, metric] / means.loc[base, metric] - 1 if means.loc[base, metric] else np.nan
        theirs = PAPER_ROWS["RL teacher"][metric] / PAPER_ROWS["prompt-only"][metric] - 1
        rows.append({"metric": METRIC_LABELS[metric], "ours": ours, "paper": theirs})
    return pd.DataFrame(rows)


def seed_table(per_user: pd.DataFrame) -> pd.DataFrame:
    """Mean R@10 and N@10 per method and seed (training variance)."""
    return (per_user.groupby(["method", "seed"])[["recall@10", "ndcg@10"]].mean()
            .reset_index())


def plot_offline(table: pd.DataFrame):
    """R@10 and N@10 per method with 95% CIs, the paper's values as grey markers."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.5 * len(table) + 1.8), sharey=True)
    for ax, label in zip(axes, ("R@10", "N@10"), strict=True):
        lows = table[f"{label} 95% CI"].str.extract(r"\[([-\d.]+), ([-\d.]+)\]").astype(float)
        y = np.arange(len(table))
        ax.barh(y, table[label], color=sns.color_palette("deep")[0], label="ours")
        ax.errorbar(table[label], y, xerr=[table[label] - lows[0], lows[1] - table[label]],
                    fmt="none", color="black", capsize=3)
        ax.scatter(table[f"{label} paper"], y, color=PAPER_COLOR, marker="D", zorder=3,
                   label="paper")
        ax.set_yticks(y, table["method"])
        ax.set_xlabel(f"{label} on held-out clicks")
        ax.invert_yaxis()
    axes[0].legend(loc="lower right")
    fig.suptitle("Offline retrieval: ours (bars, 95% CI) and the paper (diamonds)", y=1.02)
    fig.tight_layout()
    return fig


def plot_training_curves(curves: Mapping[int, pd.DataFrame]):
    """Total reward, each reward, length, entropy and KL per GRPO step, per run."""
    panels = ["total reward", "R_align", "R_cov", "R_spec", "R_div", "R_struct",
              "completion length", "entropy", "kl"]
    fig, axes = plt.subplots(3, 3, figsize=(12, 8), sharex=True)
    for ax, panel in zip(axes.ravel(), panels, strict=True):
        for seed, frame in curves.items():
            if panel in frame:
                smooth = frame[panel].rolling(5, min_periods=1).mean()
                ax.plot(frame["step"], smooth, label=f"seed {seed}")
        ax.set_title("R_struct (well-formed share)" if panel == "R_struct" else
                     "KL to the SFT policy" if panel == "kl" else panel)
        ax.set_xlabel("GRPO step")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Dr.GRPO training curves (5-step rolling mean)", y=1.01)
    fig.tight_layout()
    return fig


def ablation_table(per_user: pd.DataFrame) -> pd.DataFrame:
    """R@10 / N@10 with 95% CIs for all rewards and without each one, the paper beside."""
    ours = summarise(per_user, by="method", columns=("recall@10", "ndcg@10"))
    ours["R@10 paper"] = [paper.REWARD_ABLATION.get(m, (np.nan, np.nan))[0] for m in ours["method"]]
    ours["N@10 paper"] = [paper.REWARD_ABLATION.get(m, (np.nan, np.nan))[1] for m in ours["method"]]
    return ours.rename(columns={"recall@10": "R@10", "ndcg@10": "N@10",
                                "recall@10 low": "R@10 low", "recall@10 high": "R@10 high",
                                "ndcg@10 low": "N@10 low", "ndcg@10 high": "N@10 high"})


def example_outputs(completions: Mapping[str, Mapping[int, str]], users: Sequence[int],
                    max_chars: int = 160) -> pd.DataFrame:
    """The lists each policy writes for a few users (queries only, format flag)."""
    rows = []
    for user in users:
        for method, texts in completions.items():
            parsed = parse_completion(texts.get(int(user), ""))
            rows.append({"user": int(user), "method": method,
                         "queries": " | ".join(parsed.queries)[:max_chars],
                         "format ok": parsed.format_ok})
    return pd.DataFrame(rows)


def retrieved_titles(world, retriever, completion: str, k: int = 5) -> list[str]:
    """Titles of the top-k fused articles a completion retrieves from the serving index."""
    ranking = retriever.retrieve([list(parse_completion(completion).queries)], top_n=k)[0]
    titles = world.articles.set_index("article_id")["title"]
    return [titles.get(a, "?") for a in ranking]


def plot_imitation(curve: pd.DataFrame, demonstrations: float, sizes: pd.DataFrame):
    """Imitation against SFT steps (R@10 and words found in the prompt) and against size.

    ``curve``: ``step``, ``recall@10``, ``words in prompt``; ``sizes``: ``size``,
    ``parameters``, ``recall@10``, ``words in prompt``. The demonstrations' R@10 is the
    dashed line, the gate (90% of it) dotted.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, frame, x, label in ((axes[0], curve, "step", "SFT step"),
                                (axes[1], sizes, "parameters", "parameters (log scale)")):
        if frame.empty:
            ax.set_visible(False)
            continue
        ax.plot(frame[x], frame["recall@10"], marker="o", label="policy R@10")
        ax.axhline(demonstrations, ls="--", c="grey", label="demonstrations R@10")
        ax.axhline(0.9 * demonstrations, ls=":", c="grey", label="gate: 90%")
        ax.set_xlabel(label)
        ax.set_ylabel("R@10 (validation users)")
        twin = ax.twinx()
        twin.plot(frame[x], frame["words in prompt"], marker="s", c="C2", label="words in prompt")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("share of query words in the prompt")
        if x == "parameters":
            ax.set_xscale("log")
            for _, row in frame.iterrows():
                ax.annotate(row["size"], (row["parameters"], row["recall@10"]),
                            textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_title("Imitation against SFT steps")
    axes[1].set_title("Imitation against model size")
    fig.tight_layout()
    return fig


def example_user_markdown(world, serving, user: int, prompt: str,
                          lists: Mapping[str, str]) -> list[str]:
    """Markdown blocks for one example user: the prompt, each method's list with the top
    titles it retrieves, and the articles the user clicked later."""
    titles = world.articles.set_index("article_id")["title"]
    blocks = [f"### User {user}\n```\n{prompt}\n```"]
    for method, completion in lists.items():
        retrieved = retrieved_titles(world, serving, completion)
        blocks.append(f"**{method}**: `{completion}`\n\n" + "\n".join(f"- {t}" for t in retrieved))
    clicked = sorted(world.truth([user]).get(user, []))
    blocks.append("**later clicks**:\n" + "\n".join(f"- {titles[a]}" for a in clicked))
    return blocks


def examples_markdown(world, serving, pipeline, outputs: Mapping[str, Mapping[int, str]],
                      users: Sequence[int]) -> list[str]:
    """:func:`example_user_markdown` for each user: the prompt-only and the RL teacher's
    lists, what each retrieves, and the user's later clicks."""
    user_prompts = pipeline.prompts(users)
    return [block for user in users for block in example_user_markdown(
        world, serving, user, user_prompts[user],
        {method: outputs[method][user] for method in ("prompt-only", "RL teacher")})]


def improvement_table(improvement: Mapping[str, object]) -> pd.DataFrame:
    """One row per reward (and the total): the teacher's mean minus the prompt-only
    policy's, paired over users (``teacher.reward_improvement``)."""
    return pd.DataFrame([{"reward": name, **diff.to_dict()} for name, diff in improvement.items()])


@dataclass(frozen=True)
class OfflineComparisons:
    """The RL teacher against the prompt-only policy on the test users."""

    paired: PairedDifference  # R@10, teacher minus prompt-only
    lift: pd.DataFrame
    warm_cold: pd.DataFrame
    interest: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by the names the notebook saves them under."""
        return {"03_lift": self.lift, "03_warm_cold": self.warm_cold,
                "03_interest_quality": self.interest.reset_index()}


def offline_comparisons(per_user: pd.DataFrame) -> OfflineComparisons:
    """The teacher minus prompt-only in R@10 (paired over users), the relative lift per
    metric beside the paper's, warm against cold users, and interest coverage."""
    from newsstudy.evaluation import paired_difference

    by_user = per_user.set_index("user")
    paired = paired_difference(
        by_user[by_user["method"] == "RL teacher"]["recall@10"],
        by_user[by_user["method"] == "prompt-only"]["recall@10"])
    groups = per_user.assign(group=np.where(per_user["is_cold"], "cold", "warm"))
    return OfflineComparisons(
        paired=paired, lift=lift_table(per_user, "prompt-only", "RL teacher"),
        warm_cold=summarise(groups, by=["method", "group"], columns=("recall@10", "ndcg@10")),
        interest=per_user.groupby("method")[["interest_coverage", "query_precision"]].mean())

