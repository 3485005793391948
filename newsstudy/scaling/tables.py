"""Tables and figures of notebook 04_scaling: capacity, best-of-N, and quality per FLOP."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter, NullLocator

from newsstudy import paper
from newsstudy.evaluation import summarise
from newsstudy.saving import PAPER_COLOR
from newsstudy.scaling.compute import fit_log_linear
from newsstudy.scaling.results import (
    FailingGate,
    ImitationLadderGate,
    LargestRetrieves,
    SpanGate,
)

# The paper's capacity scaling and best-of-N (newsstudy.paper).
OURS_COLOR = "#1f77b4"


def capacity_table(per_user: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """R@10 / N@10 with 95% intervals per size, beside parameters, compute and wall time.

    ``per_user`` has ``size``, ``user``, ``recall@10``, ``ndcg@10``; ``facts`` is indexed by
    size with ``params``, ``train_flops`` and ``train_seconds``.
    """
    summary = summarise(per_user, by="size", columns=("recall@10", "ndcg@10")).set_index("size")
    table = facts.join(summary)
    base = table["recall@10"].iloc[0]
    table["R@10 relative"] = table["recall@10"] / base if base else np.nan
    return table.reset_index()


def paper_capacity_table() -> pd.DataFrame:
    """The paper's capacity bars, with R@10 relative to its smallest model."""
    rows = [{"size": k, "params": paper.CAPACITY_PARAMS[k], "recall@10": r, "ndcg@10": n}
            for k, (r, n) in paper.CAPACITY.items()]
    frame = pd.DataFrame(rows)
    frame["R@10 relative"] = frame["recall@10"] / frame["recall@10"].iloc[0]
    return frame


def plot_capacity(table: pd.DataFrame, fit: Mapping[str, float]):
    """Ours: R@10 and N@10 against parameters (log axis, 95% CI) with the fitted trend;
    right: both studies relative to their smallest model, against the parameter multiple."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for metric, marker in (("recall@10", "o"), ("ndcg@10", "s")):
        y = table[metric]
        err = [y - table[f"{metric} low"], table[f"{metric} high"] - y]
        ax.errorbar(table["params"], y, yerr=err, marker=marker, capsize=3, label=metric)
    x = np.geomspace(table["params"].min(), table["params"].max(), 50)
    ax.plot(x, fit["intercept"] + fit["slope_per_decade"] * np.log10(x), "--", color="grey",
            label=f"fit: {fit['slope_per_decade']:+.3f} R@10 per 10x")
    for _, row in table.iterrows():
        ax.annotate(row["size"], (row["params"], row["recall@10"]), textcoords="offset points",
                    xytext=(4, 6), fontsize=8)
    ax.set(xscale="log", xlabel="parameters", ylabel="score", title="Ours: quality against size")
    ax.set_xticks(table["params"], [f"{p / 1e6:.2g}M" for p in table["params"]])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(fontsize=8)
    ax = axes[1]
    published = paper_capacity_table()
    ax.plot(table["params"] / table["params"].iloc[0], table["R@10 relative"], "o-",
            color=OURS_COLOR, label="ours")
    ax.plot(published["params"] / published["params"].iloc[0], published["R@10 relative"], "s--",
            color=PAPER_COLOR, label="paper (Qwen2.5 0.5B-32B)")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="parameters / smallest model's",
           ylabel="R@10 / smallest model's", title="Relative to the smallest model")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def best_of_n_table(selected: pd.DataFrame, oracle: pd.DataFrame, union: pd.DataFrame,
                    tokens: Mapping[int, float], verified: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """Per N: mean R@10 / N@10 chosen by reward, by the oracle, of the union and (when
    given) by the learned verifier, each with the half-width of its 95% interval over
    users (``... ±``); tokens/user."""
    rows = []
    for n, group in selected.groupby("n"):
        row = {"N": int(n)}
        picks = [("reward-picked", group), ("oracle", oracle[oracle["n"] == n]),
                 ("union", union[union["n"] == n])]
        if verified is not None:
            picks.append(("verifier-picked", verified[verified["n"] == n]))
        for label, frame in picks:
            for metric, column in (("R@10", "recall@10"), ("N@10", "ndcg@10")):
                row[f"{metric} {label}"] = frame[column].mean()
                row[f"{metric} {label} ±"] = half_width(frame[column])
        published = paper.BEST_OF_N.get(int(n), (np.nan, np.nan))
        row["R@10 paper"], row["N@10 paper"] = published
        row["generated tokens / user"] = tokens[int(n)]
        rows.append(row)
    return pd.DataFrame(rows)


def half_width(values: pd.Series) -> float:
    """Half the width of the normal 95% interval of a mean over users."""
    values = values.dropna()
    return float(1.96 * values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan


SELECTORS = (("reward-picked", "o-"), ("verifier-picked", "v-"), ("random pick", "x-."),
             ("oracle", "^:"), ("union", "s--"))
"""Best-of-N's picks as the table names them, with their line styles."""
SELECTOR_COLORS = ("C0", "C1", "C2", "C3", "C4")
"""One colour per pick, the same in every panel."""


def plot_best_of_n(table: pd.DataFrame):
    """R@10 and N@10 against N (log2 axis) on one axis each: the reward's pick, the oracle's
    and the union, with 95% interval bands, beside the paper's reward pick."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, metric in zip(axes[:2], ("R@10", "N@10"), strict=True):
        for (label, style), color in zip(SELECTORS, SELECTOR_COLORS, strict=True):
            column = f"{metric} {label}"
            if column not in table:
                continue
            line, = ax.plot(table["N"], table[column], style, color=color, label=f"ours, {label}")
            if f"{column} ±" in table:
                ax.fill_between(table["N"], table[column] - table[f"{column} ±"],
                                table[column] + table[f"{column} ±"], color=line.get_color(),
                                alpha=0.15, lw=0)
        ax.plot(table["N"], table[f"{metric} paper"], "D-", color=PAPER_COLOR,
                label="paper, reward-picked")
        ax.set(xscale="log", xlabel="N (lists sampled per user)", ylabel=metric,
               title=f"Best-of-N: {metric} (bands: 95% intervals)")
        ax.set_xticks(table["N"], [str(n) for n in table["N"]])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7, loc="best")
    ax = axes[2]
    ax.plot(table["N"], table["generated tokens / user"], "o-")
    ax.set(xscale="log", yscale="log", xlabel="N", ylabel="generated tokens per user",
           title="Inference cost")
    ax.set_xticks(table["N"], [str(n) for n in table["N"]])
    ax.xaxis.set_minor_formatter(NullFormatter())
    tokens = table["generated tokens / user"]
    ax.set_yticks(tokens, [f"{t:,.0f}" for t in tokens])
    ax.yaxis.set_minor_locator(NullLocator())
    fig.tight_layout()
    return fig


def plot_compute_frontier(points: pd.DataFrame):
    """R@10 against inference FLOPs per user, one line per size across N, with 95%
    intervals over users (bars) where ``points`` holds them."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for size, group in points.groupby("size", sort=False):
        group = group.sort_values("n")
        err = None
        if {"recall@10 low", "recall@10 high"} <= set(group.columns):
            err = [group["recall@10"] - group["recall@10 low"],
                   group["recall@10 high"] - group["recall@10"]]
        ax.errorbar(group["flops_per_user"], group["recall@10"], yerr=err, fmt="o-",
                    capsize=2, elinewidth=0.8, label=size)
        for _, row in group.iterrows():
            ax.annotate(f"N={int(row['n'])}", (row["flops_per_user"], row["recall@10"]),
                        textcoords="offset points", xytext=(3, -9), fontsize=6)
    ax.set(xscale="log", xlabel="inference FLOPs per user (reading + writing, all N lists)",
           ylabel="R@10 (reward-picked)",
           title="Quality against inference compute (bars: 95% intervals)")
    ax.legend(title="size", fontsize=8)
    fig.tight_layout()
    return fig


def matches_at_lower_compute(points: pd.DataFrame) -> pd.DataFrame:
    """For each size at N = 1, the cheapest smaller-size best-of-N that matches its R@10.

    ``points``: one row per (size, n) with ``params``, ``recall@10``, ``flops_per_user``.
    A row per larger size: the matching (size, N) and its FLOPs, or none.
    """
    rows = []
    single = points[points["n"] == 1].sort_values("params")
    for _, target in single.iterrows():
        smaller = points[(points["params"] < target["params"])
                         & (points["recall@10"] >= target["recall@10"])]
        if single["params"].min() == target["params"] or not target["recall@10"] > 0:
            continue
        row = {"size at N=1": target["size"], "its R@10": target["recall@10"],
               "its FLOPs/user": target["flops_per_user"]}
        if smaller.empty:
            row.update({"matched by": "none", "N": np.nan, "R@10": np.nan,
                        "FLOPs/user": np.nan, "FLOPs ratio": np.nan})
        else:
            best = smaller.sort_values("flops_per_user").iloc[0]
            row.update({"matched by": best["size"], "N": int(best["n"]),
                        "R@10": best["recall@10"], "FLOPs/user": best["flops_per_user"],
                        "FLOPs ratio": best["flops_per_user"] / target["flops_per_user"]})
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- capacity study records
# (the plain records of newsstudy.scaling.capacity.measure_size, one per size)

def capacity_facts(records) -> pd.DataFrame:
    """Per size: parameters, recipe, training compute and wall time, smallest first."""
    keys = ("size", "params", "sft_epochs", "sft_learning_rate", "grpo_learning_rate",
            "train_flops", "train_seconds")
    return (pd.DataFrame([{k: r[k] for k in keys} for r in records])
            .set_index("size").sort_values("params"))


def capacity_per_user(records, part: str = "test") -> pd.DataFrame:
    """Per (size, user): the lists as served on ``part`` (``test`` or ``val``) users."""
    return pd.concat([pd.DataFrame(r[part]).assign(size=r["size"]) for r in records],
                     ignore_index=True)


def validation_table(records, demo_recall: pd.Series) -> pd.DataFrame:
    """Per size: its SFT recipe, held-out SFT loss, warm start's validation R@10, its share
    of the demonstrations' R@10 and its well-formed share, smallest first."""
    from newsstudy.gates import FORMAT_BAR, IMITATION_BAR, imitation_gate

    rows = []
    for r in sorted(records, key=lambda r: r["params"]):
        val = pd.DataFrame(r["val"]).set_index("user")["recall@10"]
        gate = imitation_gate(val, demo_recall)
        rows.append({"size": r["size"], "params": r["params"],
                     "SFT epochs": r.get("sft_epochs"), "SFT learning rate": r.get("sft_learning_rate"),
                     "validation SFT loss": r["val_loss"],
                     "R@10 (warm start, val)": gate.policy,
                     "demonstrations' R@10": gate.demonstrations,
                     "share of demonstrations'": gate.ratio,
                     "well-formed": r["val_well_formed"],
                     "imitation passes": gate.ratio >= IMITATION_BAR,
                     "format passes": r["val_well_formed"] >= FORMAT_BAR})
    return pd.DataFrame(rows)


def plot_validation_loss(table: pd.DataFrame):
    """Held-out SFT loss and the imitation share against parameters (log axis)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    axes[0].plot(table["params"], table["validation SFT loss"], "o-", color=OURS_COLOR)
    for _, row in table.iterrows():
        axes[0].annotate(row["size"], (row["params"], row["validation SFT loss"]),
                         textcoords="offset points", xytext=(4, 5), fontsize=8)
    axes[0].set(xscale="log", xlabel="parameters", ylabel="nats per completion token",
                title="Held-out SFT loss on validation demonstrations")
    axes[1].plot(table["params"], table["share of demonstrations'"], "o-", color=OURS_COLOR,
                 label="R@10 share of demonstrations'")
    axes[1].plot(table["params"], table["well-formed"], "s--", color="grey", label="well-formed")
    axes[1].axhline(0.9, color=PAPER_COLOR, lw=0.8, ls=":", label="imitation bar 0.90")
    axes[1].axhline(0.95, color="black", lw=0.8, ls=":", label="format bar 0.95")
    axes[1].set(xscale="log", xlabel="parameters", ylabel="share",
                title="Warm start on validation users, as served")
    axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2,
                   frameon=False)  # below the axes: no line runs under it
    for ax in axes:  # one tick per size, in millions of parameters: no crowded log ticks
        ax.set_xticks(table["params"], [f"{p / 1e6:.2g}M" for p in table["params"]])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    return fig


def compute_matched(picks: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Each larger size at N = 1 against each smaller size's best-of-N at no more FLOPs.

    For a larger size L and a smaller size S, the largest sampled N with
    ``FLOPs_S(N) <= FLOPs_L(1)``; the paired difference of R@10 (S at N minus L at 1) on
    the same users, with its 95% interval.
    """
    from newsstudy.evaluation import paired_difference

    rows = []
    single = points[points["n"] == 1].set_index("size")
    for large, target in single.sort_values("params").iterrows():
        for small, base in single.sort_values("params").iterrows():
            if base["params"] >= target["params"]:
                continue
            options = points[(points["size"] == small)
                             & (points["flops_per_user"] <= target["flops_per_user"])]
            if options.empty:
                continue
            n = int(options["n"].max())
            a = picks[(picks["size"] == small) & (picks["n"] == n)].set_index("user")["recall@10"]
            b = picks[(picks["size"] == large) & (picks["n"] == 1)].set_index("user")["recall@10"]
            d = paired_difference(a, b)
            flops = float(options.loc[options["n"] == n, "flops_per_user"].iloc[0])
            rows.append({"larger at N=1": large, "smaller": small, "N": n,
                         "FLOPs ratio": flops / target["flops_per_user"],
                         "R@10 smaller": d.mean_a, "R@10 larger": d.mean_b,
                         "paired diff": d.diff, "low": d.low, "high": d.high, "n": d.n})
    return pd.DataFrame(rows)


def plot_pick_gains(gains: pd.DataFrame, oracle_gains: pd.DataFrame,
                    verifier_gains: pd.DataFrame | None = None):
    """Gain of the reward pick, the learned verifier's pick (when given) and the oracle
    pick over a random pick, against N, with 95% intervals."""
    fig, ax = plt.subplots(figsize=(7, 4))
    picks = [(gains, "reward pick", "o-"), (oracle_gains, "oracle pick", "^:")]
    if verifier_gains is not None:
        picks.insert(1, (verifier_gains, "learned verifier pick", "v-"))
    for table, label, style in picks:
        ax.errorbar(table["N"], table["gain"],
                    yerr=[table["gain"] - table["low"], table["high"] - table["gain"]],
                    fmt=style, capsize=3, label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="N (lists sampled per user)",
           ylabel="R@10 gain over a random pick", title="Best-of-N: paired gain over random")
    ax.set_xticks(gains["N"], [str(n) for n in gains["N"]])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gain_share_table(best_table: pd.DataFrame) -> pd.DataFrame:
    """Share of the largest N's gain (reward pick, over N = 1) already reached at each N,
    ours beside the paper's (NaN where our largest-N gain is zero)."""
    gain = best_table["R@10 reward-picked"] - best_table["R@10 reward-picked"].iloc[0]
    paper_gain = best_table["R@10 paper"] - best_table["R@10 paper"].iloc[0]
    return pd.DataFrame({"N": best_table["N"],
                         "ours: share of gain": gain / gain.iloc[-1] if gain.iloc[-1] else np.nan,
                         "paper: share of gain": paper_gain / paper_gain.iloc[-1]})


def describe_matches(matches: pd.DataFrame, max_n: int) -> list[str]:
    """One sentence per larger size: which smaller size with best-of-N matches it at N = 1,
    and at what share of its inference FLOPs (or that none does up to ``max_n``)."""
    lines = []
    for _, row in matches.iterrows():
        if row["matched by"] == "none":
            lines.append(f"No smaller size with best-of-N (N <= {max_n}) reaches "
                         f"{row['size at N=1']} at N = 1 (R@10 {row['its R@10']:.3f}).")
        else:
            lines.append(f"{row['matched by']} with N = {row['N']} (R@10 {row['R@10']:.3f}) matches "
                         f"{row['size at N=1']} at N = 1 (R@10 {row['its R@10']:.3f}) with "
                         f"{row['FLOPs ratio']:.2f}x its inference FLOPs.")
    return lines


def ladder_gates(validation: pd.DataFrame) -> dict:
    """The ladder's checks from its validation table: every size imitates and writes
    well-formed lists (the failing sizes named), and the sizes span at least 30x."""
    span = float(validation["params"].max() / validation["params"].min())
    return {
        "sizes_imitate": ImitationLadderGate(
            passes=bool(validation["imitation passes"].all()),
            failing=validation.loc[~validation["imitation passes"], "size"].tolist(),
            shares=dict(zip(validation["size"], validation["share of demonstrations'"],
                            strict=True))),
        "sizes_well_formed": FailingGate(
            passes=bool(validation["format passes"].all()),
            failing=validation.loc[~validation["format passes"], "size"].tolist()),
        "span_30x": SpanGate(passes=bool(span >= 30), span=span),
    }


def largest_retrieves(capacity_table: pd.DataFrame) -> LargestRetrieves:
    """The largest size's check: its lists retrieve something (Recall@10 above zero)."""
    largest = capacity_table.sort_values("params").iloc[-1]
    return LargestRetrieves(passes=bool(largest["recall@10"] > 0), size=largest["size"],
                            recall_at_10=largest["recall@10"])


def loss_slope_per_decade(validation: pd.DataFrame) -> float:
    """Least-squares change of the held-out SFT loss per tenfold parameters."""
    return float(np.polyfit(np.log10(validation["params"]), validation["validation SFT loss"], 1)[0])


def describe_ladder_gates(gate: dict, loss_slope: float) -> str:
    """One paragraph: which sizes fail imitation or format, the span, the loss slope."""
    def verdict(name: str) -> str:
        g = gate[name]
        return "every size passes" if g.passes else "FAILS for " + ", ".join(g.failing)

    return (f"Imitation: {verdict('sizes_imitate')}; format: {verdict('sizes_well_formed')}; "
            f"parameter span {gate['span_30x'].span:.1f}x. Held-out SFT loss changes by "
            f"{loss_slope:+.3f} nats per tenfold parameters.")


def capacity_fits(capacity_users: pd.DataFrame, facts: pd.DataFrame, seed: int):
    """The capacity table (with each size's mean reward) and the log-linear fits of R@10
    and of reward against parameters, bootstrapped over test users."""
    table = capacity_table(capacity_users, facts)
    table["reward"] = table["size"].map(capacity_users.groupby("size")["reward"].mean())
    per_size = {metric: [capacity_users.loc[capacity_users["size"] == s, metric].to_numpy()
                         for s in table["size"]] for metric in ("recall@10", "reward")}
    fit = fit_log_linear(table["params"], per_size["recall@10"], seed=seed)
    reward_fit = fit_log_linear(table["params"], per_size["reward"], seed=seed)
    return table, fit, reward_fit
