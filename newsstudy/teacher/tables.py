"""Tables and figures of notebook 03_grpo: the LLM rows, training curves, reward ablation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullLocator

from newsstudy import paper
from newsstudy.evaluation import PairedDifference, summarise
from newsstudy.metrics import DEFAULT_METRICS, METRIC_LABELS
from newsstudy.output_format import parse_completion
from newsstudy.saving import PAPER_COLOR

# The paper's LLM rows of the offline table and its reward ablation (newsstudy.paper).
PAPER_ROWS = {ours: paper.OFFLINE[row] for ours, row in paper.LLM_ROW_OF.items()}

TEACHER_NAMES = {"paper": "RL teacher", "verifiable": "RL teacher (verifiable)"}
"""The row name of each reward's teacher: the paper's reward keeps the paper's name."""


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


def plot_training_curves(curves: Mapping[str, pd.DataFrame]):
    """Per GRPO step and run: the total reward (each teacher's own), the verifiable
    reward's retrieval term and the paper's rewards, length, entropy and KL (each shown
    where the run logs it)."""
    panels = ["total reward", "R_retrieval", "R_align", "R_cov", "R_spec", "R_div",
              "completion length", "entropy", "kl"]
    fig, axes = plt.subplots(3, 3, figsize=(12, 8), sharex=True)
    for ax, panel in zip(axes.ravel(), panels, strict=True):
        for run, frame in curves.items():
            if panel in frame and frame[panel].notna().any():
                smooth = frame[panel].rolling(5, min_periods=1).mean()
                ax.plot(frame["step"], smooth, label=str(run))
        ax.set_title({"kl": "KL to the SFT policy (symlog)", "R_retrieval": "verifiable: retrieval",
                      "total reward": "total reward (each run's own)"}.get(panel, panel))
        ax.set_xlabel("GRPO step")
        if panel == "kl" and ax.lines:  # one spike must not flatten the rest
            ax.set_yscale("symlog", linthresh=1e-3)
        elif not ax.lines:  # e.g. the KL, which TRL computes only with beta > 0
            ax.text(0.5, 0.5, "not logged by these runs" + (" (beta = 0)" if panel == "kl"
                                                            else ""),
                    ha="center", va="center", transform=ax.transAxes, color="grey")
            ax.set_yticks([])
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper center", ncol=min(len(labels), 4),
               bbox_to_anchor=(0.5, 1.04))
    fig.suptitle("Dr.GRPO training curves (5-step rolling mean)", y=1.08)
    fig.tight_layout()
    return fig


def run_table(curves: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run: steps, the mean total reward of its first and last tenth of steps, its
    entropy likewise, and its largest per-step KL (where the run computes one)."""
    rows = []
    for run, frame in curves.items():
        tenth = max(len(frame) // 10, 1)
        kl = frame["kl"] if "kl" in frame and frame["kl"].notna().any() else None
        rows.append({"run": str(run), "steps": int(len(frame)),
                     "reward first": float(frame["total reward"].head(tenth).mean()),
                     "reward last": float(frame["total reward"].tail(tenth).mean()),
                     "entropy first": float(frame["entropy"].head(tenth).mean()),
                     "entropy last": float(frame["entropy"].tail(tenth).mean()),
                     "max KL": float(kl.max()) if kl is not None else np.nan})
    return pd.DataFrame(rows)


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


def retrieved_titles(world, retriever, completion: str, fusion: str, k: int = 5) -> list[str]:
    """Titles of the top-k articles a completion retrieves from the serving index, its
    queries' results fused as served (``fusion``)."""
    ranking = retriever.retrieve([list(parse_completion(completion).queries)], fusion,
                                 top_n=k)[0]
    titles = world.articles.set_index("article_id")["title"]
    return [titles.get(a, "?") for a in ranking]


def plot_imitation(curve: pd.DataFrame, demonstrations: float, sizes: pd.DataFrame):
    """Imitation against SFT steps (left) and against size (right): R@10 above, the share
    of query words found in the prompt below, each on its own axis.

    ``curve``: ``step``, ``recall@10``, ``words in prompt``; ``sizes``: ``size``,
    ``parameters``, ``recall@10``, ``words in prompt``. The demonstrations' R@10 is the
    dashed line, the gate (90% of it) dotted.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11, 5.6), sharex="col")
    for column, (frame, x, label) in enumerate(((curve, "step", "SFT step"),
                                                (sizes, "parameters", "parameters"))):
        top, bottom = axes[0, column], axes[1, column]
        if frame.empty:
            top.set_visible(False)
            bottom.set_visible(False)
            continue
        top.plot(frame[x], frame["recall@10"], marker="o", label="policy R@10")
        top.axhline(demonstrations, ls="--", c="grey", label="demonstrations R@10")
        top.axhline(0.9 * demonstrations, ls=":", c="grey", label="gate: 90%")
        top.set_ylabel("R@10 (validation users)")
        bottom.plot(frame[x], frame["words in prompt"], marker="s", c="C2")
        bottom.set_ylim(0, 1.05)
        bottom.set_ylabel("query words in the prompt")
        bottom.set_xlabel(label)
        if x == "parameters":
            bottom.set_xscale("log")
            bottom.set_xticks(frame["parameters"],
                              [f"{size}\n{p / 1e6:.2g}M" for size, p in
                               zip(frame["size"], frame["parameters"], strict=True)])
            bottom.xaxis.set_minor_locator(NullLocator())
    axes[0, 0].legend(fontsize=8, loc="lower right")
    axes[0, 0].set_title("Imitation against SFT steps")
    axes[0, 1].set_title("Imitation against model size")
    fig.tight_layout()
    return fig


def example_user_markdown(world, serving, user: int, prompt: str,
                          lists: Mapping[str, str], fusion: str) -> list[str]:
    """Markdown blocks for one example user: the prompt, each method's list with the top
    titles it retrieves, and the articles the user clicked later."""
    titles = world.articles.set_index("article_id")["title"]
    blocks = [f"### User {user}\n```\n{prompt}\n```"]
    for method, completion in lists.items():
        retrieved = retrieved_titles(world, serving, completion, fusion)
        blocks.append(f"**{method}**: `{completion}`\n\n" + "\n".join(f"- {t}" for t in retrieved))
    clicked = sorted(world.truth([user]).get(user, []))
    blocks.append("**later clicks**:\n" + "\n".join(f"- {titles[a]}" for a in clicked))
    return blocks


def examples_markdown(world, serving, pipeline, outputs: Mapping[str, Mapping[int, str]],
                      users: Sequence[int], methods: Sequence[str]) -> list[str]:
    """:func:`example_user_markdown` for each user: each of ``methods``' lists, what it
    retrieves (fused as the pipeline serves), and the user's later clicks."""
    user_prompts = pipeline.prompts(users)
    return [block for user in users for block in example_user_markdown(
        world, serving, user, user_prompts[user], {method: outputs[method][user]
                                                   for method in methods},
        pipeline.settings.fusion)]


def gate_sentence(label: str, gate) -> str:
    """One line for a notebook: an imitation gate's numbers and whether it passes."""
    return (f"**{label} gate**: the prompt-only policy reaches {gate.ratio:.1%} of its "
            f"demonstrations' R@10 ({gate.policy:.4f} vs {gate.demonstrations:.4f}, bar "
            f"{gate.bar:.0%}): {'passes' if gate.passes else 'FAILS'}.")


def improvements(paper_rewards: Mapping[tuple, pd.DataFrame],
                 window_rewards: Mapping[tuple, pd.Series],
                 names: Mapping[str, str]) -> dict[str, PairedDifference]:
    """What each teacher raised on validation users, paired against prompt-only (seeds
    pooled per user): every paper reward and their total for the paper's teacher
    (``paper: <reward>``), the retrieval term for the verifiable one (``verifiable:
    retrieval``), and each teacher measured on the other's reward too (``paper teacher on
    verifiable``, ``verifiable teacher on paper total``).

    ``paper_rewards``: ``(policy, seed) ->`` per-user mean rewards (the five and
    ``total``); ``window_rewards``: ``(policy, seed) ->`` per-user mean verifiable reward.
    """
    from newsstudy.rewards import REWARD_NAMES
    from newsstudy.teacher.comparison import improvement

    def runs(table, name):
        return [value for (policy, _), value in table.items() if policy == name]

    base_paper = runs(paper_rewards, "prompt-only")[0]
    base_window = runs(window_rewards, "prompt-only")[0]
    out = {f"paper: {column}": improvement([f[column] for f in runs(paper_rewards, names["paper"])],
                                           base_paper[column])
           for column in (*REWARD_NAMES, "total")}
    out["verifiable: retrieval"] = improvement(runs(window_rewards, names["verifiable"]),
                                               base_window)
    out["paper teacher on verifiable"] = improvement(runs(window_rewards, names["paper"]),
                                                     base_window)
    out["verifiable teacher on paper total"] = improvement(
        [f["total"] for f in runs(paper_rewards, names["verifiable"])], base_paper["total"])
    return out


def gap_table(closed: Mapping[str, object], names: Mapping[str, str]) -> pd.DataFrame:
    """Per teacher: validation R@10 against prompt-only and ``infer``, the paired gain, and
    the share of the prompt-only-to-infer gap it closes (95% bootstrap interval)."""
    rows = []
    for reward, gap in closed.items():
        diff, infer = gap.teacher_minus_prompt_only, gap.infer_minus_prompt_only
        rows.append({"teacher": names[reward], "R@10": diff.mean_a, "prompt-only": diff.mean_b,
                     "infer": infer.mean_a, "gain": diff.diff, "gain low": diff.low,
                     "gain high": diff.high, "share of gap": gap.share,
                     "share low": gap.share_low, "share high": gap.share_high, "n": gap.n})
    return pd.DataFrame(rows)


def headline_sentence(closed: Mapping[str, object], names: Mapping[str, str],
                      feeds: str) -> str:
    """The check-5 sentence: each teacher's validation gain and share of the gap."""
    parts = []
    for reward, gap in closed.items():
        diff = gap.teacher_minus_prompt_only
        parts.append(f"{names[reward]}{' (feeds 04-06)' if reward == feeds else ''}: R@10 "
                     f"{diff.mean_a:.4f} against prompt-only's {diff.mean_b:.4f}, gain "
                     f"{diff.diff:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}], "
                     f"{gap.share:.0%} of the gap to infer "
                     f"({gap.infer_minus_prompt_only.mean_a:.4f}) closed "
                     f"[{gap.share_low:.0%}, {gap.share_high:.0%}]")
    return "Validation users, n = " + f"{next(iter(closed.values())).n}: " + "; ".join(parts) + "."


def improvement_table(improvement: Mapping[str, object]) -> pd.DataFrame:
    """One row per reward (and the total): the teacher's mean minus the prompt-only
    policy's, paired over users (``teacher.reward_improvement``)."""
    return pd.DataFrame([{"reward": name, **diff.to_dict()} for name, diff in improvement.items()])


@dataclass(frozen=True)
class OfflineComparisons:
    """The teachers against the prompt-only policy on the test users."""

    paired: dict[str, PairedDifference]  # R@10, each teacher minus prompt-only
    captured: dict[str, float]  # share of the verifiable gain the paper's teacher reaches
    lift: pd.DataFrame
    warm_cold: pd.DataFrame
    interest: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by the names the notebook saves them under."""
        paired = pd.DataFrame([{"teacher": name, **diff.to_dict()}
                               for name, diff in self.paired.items()])
        return {"03_lift": self.lift, "03_warm_cold": self.warm_cold,
                "03_interest_quality": self.interest.reset_index(),
                "03_teachers_paired": paired}

    def summary(self) -> str:
        """Each teacher minus prompt-only, and the share captured, as one markdown line."""
        parts = [f"{name} minus prompt-only, test R@10: {diff.diff:+.4f} "
                 f"[{diff.low:+.4f}, {diff.high:+.4f}] (n = {diff.n})"
                 for name, diff in self.paired.items()]
        c = self.captured
        parts.append(f"the paper's reward reaches {c['share']:.0%} of the verifiable reward's "
                     f"gain [{c['low']:.0%}, {c['high']:.0%}]")
        return "; ".join(parts) + "."


def captured_share(per_user: pd.DataFrame, paper_name: str, verifiable_name: str,
                   n_boot: int = 4000, seed: int = 0) -> dict[str, float]:
    """The paper's reward teacher's test R@10 gain over prompt-only as a share of the
    verifiable teacher's (seeds pooled per user), with a 95% percentile bootstrap interval
    over users (NaN where the verifiable teacher gains nothing)."""
    means = per_user.groupby(["method", "user"])["recall@10"].mean().unstack(0)
    table = means[[paper_name, verifiable_name, "prompt-only"]].dropna()
    values = table.to_numpy(float)

    def share(rows) -> float:
        gain = values[rows, 1].mean() - values[rows, 2].mean()
        return float((values[rows, 0].mean() - values[rows, 2].mean()) / gain) if gain > 0 \
            else float("nan")

    rng = np.random.default_rng(seed)
    draws = np.array([share(rng.integers(0, len(values), len(values))) for _ in range(n_boot)])
    low, high = (np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any()
                 else (np.nan, np.nan))
    return {"share": share(np.arange(len(values))), "low": float(low), "high": float(high),
            "n": int(len(values))}


def offline_comparisons(per_user: pd.DataFrame) -> OfflineComparisons:
    """Each teacher minus prompt-only in R@10 (paired over users, seeds pooled), the share
    of the verifiable teacher's gain the paper's teacher captures, the relative lift per
    metric beside the paper's, warm against cold users, and interest coverage."""
    from newsstudy.evaluation import paired_difference

    means = per_user.groupby(["method", "user"])["recall@10"].mean()
    paper_name, verifiable_name = TEACHER_NAMES["paper"], TEACHER_NAMES["verifiable"]
    paired = {name: paired_difference(means[name], means["prompt-only"])
              for name in (paper_name, verifiable_name)
              if name in means.index.get_level_values(0)}
    groups = per_user.assign(group=np.where(per_user["is_cold"], "cold", "warm"))
    interest = per_user.groupby("method")[["interest_coverage", "query_precision",
                                           "queries_per_interest"]].mean()
    return OfflineComparisons(
        paired=paired, captured=captured_share(per_user, paper_name, verifiable_name),
        lift=lift_table(per_user, "prompt-only", paper_name),
        warm_cold=summarise(groups, by=["method", "group"], columns=("recall@10", "ndcg@10")),
        interest=interest)
