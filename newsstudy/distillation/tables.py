"""Tables and figures of notebook 05_distillation."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from newsstudy import paper
from newsstudy.evaluation import summarise
from newsstudy.saving import PAPER_COLOR

ORDER = ("teacher", "student warm start", "none", "supervised", "on-policy", "on-policy + GRPO")


def distillation_table(per_user: pd.DataFrame, kl: Mapping[str, float]) -> pd.DataFrame:
    """Per method: R@10 / N@10 (95% CI over users, seeds averaged per user), the paper's
    values, the share of the teacher-student gap closed, and the reverse KL to the teacher."""
    summary = summarise(per_user, by="method", columns=("recall@10", "ndcg@10")).set_index("method")
    teacher, none = summary.loc["teacher", "recall@10"], summary.loc["none", "recall@10"]
    gap = teacher - none
    paper_gap = paper.DISTILLATION["teacher"][0] - paper.DISTILLATION["none"][0]
    rows = []
    for method in [m for m in ORDER if m in summary.index]:
        row = summary.loc[method]
        published = paper.DISTILLATION.get(method, (np.nan, np.nan))
        rows.append({
            "method": method, "n": int(row["n"]),
            "R@10": row["recall@10"], "R@10 low": row["recall@10 low"],
            "R@10 high": row["recall@10 high"], "N@10": row["ndcg@10"],
            "N@10 low": row["ndcg@10 low"], "N@10 high": row["ndcg@10 high"],
            "R@10 paper": published[0], "N@10 paper": published[1],
            "gap closed": (row["recall@10"] - none) / gap if gap > 0 else np.nan,
            "gap closed paper": (published[0] - paper.DISTILLATION["none"][0]) / paper_gap,
            "reverse KL to teacher": kl.get(method, np.nan),
        })
    return pd.DataFrame(rows)


def plot_distillation(table: pd.DataFrame):
    """R@10 per method with 95% intervals, the paper's bars beside on the same axis."""
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(table))
    err = [table["R@10"] - table["R@10 low"], table["R@10 high"] - table["R@10"]]
    ax.bar(x - 0.2, table["R@10"], 0.4, yerr=err, capsize=3, label="ours (95% interval)")
    ax.bar(x + 0.2, table["R@10 paper"], 0.4, color=PAPER_COLOR, label="paper")
    ax.set_xticks(x, table["method"], rotation=20, ha="right")
    ax.set_ylabel("R@10")
    top = np.nanmax([table["R@10 high"].max(), table["R@10 paper"].max()])
    ax.set_ylim(0, 1.2 * top)  # room for the legend above the bars
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    ax.set_title("Distillation ablation (teacher, warm start, four students)")
    fig.tight_layout()
    return fig


def plot_curves(curves: Mapping[str, pd.DataFrame]):
    """Recall@10 (with its 95% interval over the curve users as a band, where the run
    recorded one) and reverse KL to the teacher against steps, one line per method."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    users = set()
    for name, frame in curves.items():
        for ax, column in zip(axes, ("recall@10", "sampled_reverse_kl"), strict=True):
            if column not in frame:
                continue
            points = frame.dropna(subset=[column])
            (line,) = ax.plot(points["step"], points[column], "o-", label=name)
            band = {f"{column} low", f"{column} high"}
            if band <= set(points.columns) and points[list(band)].notna().all().all():
                ax.fill_between(points["step"], points[f"{column} low"],
                                points[f"{column} high"], color=line.get_color(), alpha=0.15)
            if "curve users" in points:
                users.update(int(n) for n in points["curve users"].dropna())
    shown = f"{min(users)} validation users, band: 95% interval" if users else \
        "validation users; no interval recorded"
    axes[0].set(xlabel="optimisation step", ylabel="Recall@10 (validation users)",
                title=f"Quality while distilling ({shown})")
    axes[1].set(xlabel="optimisation step", ylabel="KL(student || teacher) per token",
                title="Reverse KL on the student's own samples")
    axes[0].title.set_fontsize(10)
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def serving_table(speed: Mapping[str, Mapping[str, float]], params: Mapping[str, int],
                  batch_size: int, threads: int) -> pd.DataFrame:
    """Users/s (the median of the measured turns, with their range) and latency of teacher
    and student, the share of their time spent inside the model, the speed-up (and its
    range over turns), and the paper's, with the batch size and torch threads both were
    served with."""
    rows = []
    for role in ("teacher", "student"):
        s = speed[role]
        runs = s.get("users_per_second_runs") or [s["users_per_second"]]
        rows.append({"model": role, "params": params[role],
                     "users/s": s["users_per_second"],
                     "users/s range": f"{min(runs):.1f}-{max(runs):.1f} ({len(runs)} runs)",
                     "p50 latency (s)": s["p50_latency_s"],
                     "p95 latency (s)": s["p95_latency_s"],
                     "tokens/user": s["mean_new_tokens"],
                     "time in the model": s.get("forward_share", np.nan),
                     "paper users/s": paper.SERVING[role]})
    frame = pd.DataFrame(rows)
    frame["speed-up"] = frame["users/s"] / frame.loc[0, "users/s"]
    ratios = speed.get("speedups") or []
    frame["speed-up range"] = ["", f"{min(ratios):.1f}-{max(ratios):.1f}" if ratios else ""]
    frame["paper speed-up"] = frame["paper users/s"] / paper.SERVING["teacher"]
    frame["params ratio"] = frame.loc[0, "params"] / frame["params"]
    return frame.assign(**{"batch size": batch_size, "torch threads": threads})


def offline_rows(per_user: pd.DataFrame) -> pd.DataFrame:
    """The distilled student's row of the offline table (on-policy), beside the paper's."""
    from newsstudy.metrics import DEFAULT_METRICS

    summary = summarise(per_user[per_user["method"] == "on-policy"], by="method")
    row = {"method": "Distilled student (on-policy)", "n": int(summary["n"].iloc[0])}
    for metric in DEFAULT_METRICS:
        row[metric] = summary[metric].iloc[0]
        row[f"{metric} 95% CI"] = (f"[{summary[f'{metric} low'].iloc[0]:.3f}, "
                                   f"{summary[f'{metric} high'].iloc[0]:.3f}]")
        row[f"{metric} paper"] = paper.OFFLINE[paper.STUDENT_ROW_OF["on-policy"]][metric]
    return pd.DataFrame([row])


def gap_share_table(per_user: pd.DataFrame, methods, metric: str = "recall@10",
                    teacher: str = "teacher", base: str = "none", n_boot: int = 2000,
                    seed: int = 0) -> pd.DataFrame:
    """Per method: paired gains over ``base`` and the share of the teacher's gap they close.

    Seeds are averaged per user first; every difference is on the users all of ``teacher``,
    ``base`` and the method have. ``share = mean(method - base) / mean(teacher - base)``,
    with a percentile bootstrap interval over users (both means resampled together); share
    and interval are NaN when the teacher does not beat ``base`` on these users (there is
    no gap to close). Also the paired
    difference against the teacher (``vs teacher``).
    """
    from newsstudy.evaluation import paired_difference

    wide = per_user.groupby(["user", "method"])[metric].mean().unstack("method")
    rng = np.random.default_rng(seed)
    rows = []
    for method in methods:
        cols = wide[[teacher, base, method]].dropna()
        gain = (cols[method] - cols[base]).to_numpy()
        gap = (cols[teacher] - cols[base]).to_numpy()
        over_base = paired_difference(cols[method], cols[base])
        vs_teacher = paired_difference(cols[method], cols[teacher])
        share = gain.mean() / gap.mean() if gap.mean() > 0 else np.nan
        boots = []
        for _ in range(n_boot):
            idx = rng.integers(0, len(cols), len(cols))
            g = gap[idx].mean()
            boots.append(gain[idx].mean() / g if g > 0 else np.nan)
        boots = np.asarray(boots)
        low, high = (np.nanpercentile(boots, [2.5, 97.5])
                     if np.isfinite(share) and np.isfinite(boots).any() else (np.nan, np.nan))
        rows.append({"method": method, "n": over_base.n,
                     f"gain over {base}": over_base.diff, "gain low": over_base.low,
                     "gain high": over_base.high, "vs teacher": vs_teacher.diff,
                     "vs teacher low": vs_teacher.low, "vs teacher high": vs_teacher.high,
                     "teacher gap": float(gap.mean()), "share of gap closed": share,
                     "share low": float(low), "share high": float(high)})
    return pd.DataFrame(rows)


def per_user_table(teacher_rows: pd.DataFrame, measured: list[dict]) -> pd.DataFrame:
    """One row per (method, seed, user): the teacher's rows, then every measured student's."""
    return pd.concat([teacher_rows, *(pd.DataFrame(m["test"]).assign(method=m["method"],
                                                                     seed=m["seed"])
                                      for m in measured)], ignore_index=True)


def kl_runs_table(measured: list[dict]) -> pd.DataFrame:
    """Each student run's reverse KL to the teacher and well-formed share."""
    return pd.DataFrame([{"method": m["method"], "seed": m["seed"], "reverse KL": m["reverse_kl"],
                          "well-formed": m["well_formed"]} for m in measured])


def seed_spread(per_user: pd.DataFrame, metric: str = "recall@10") -> pd.Series:
    """Per method (teacher left out), the std over seeds of the seed's mean ``metric``."""
    students = per_user[per_user["method"] != "teacher"]
    return students.groupby(["method", "seed"])[metric].mean().groupby("method").std(ddof=1)


def pair_table(teacher_size: str, student_size: str, vocab_size: int) -> pd.DataFrame:
    """The teacher and the student: role, ladder size and parameters."""
    from newsstudy.policy import ladder

    return pd.DataFrame([{"role": role, "size": size,
                          "params": ladder.parameter_count(size, vocab_size)}
                         for role, size in (("teacher", teacher_size), ("student", student_size))])


def describe_pair(pair: pd.DataFrame, teacher_checkpoint: str, train_users: int,
                  same_users: bool) -> str:
    """One sentence: the pair, how far apart, and whether both trained on the same users."""
    size, params = pair.set_index("role")["size"], pair.set_index("role")["params"]
    ratio = params["teacher"] / params["student"]
    return (f"Teacher {size['teacher']} ({teacher_checkpoint}), student "
            f"{size['student']}: {ratio:.1f}x fewer parameters "
            f"({'at least 30x' if ratio >= 30 else 'FAILS the 30x bar'}); both trained on "
            f"{train_users} users: {'yes' if same_users else 'NO, the teacher saw other users'}.")


def method_table(per_user: pd.DataFrame, kl_runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`distillation_table` with each method's mean reverse KL over its runs and the
    spread of its R@10 over seeds."""
    kl = kl_runs.groupby("method")["reverse KL"].mean().to_dict()
    table = distillation_table(per_user, kl)
    table["R@10 seed std"] = table["method"].map(seed_spread(per_user))
    return table


def teacher_gap(per_user: pd.DataFrame, metric: str = "recall@10"):
    """The teacher minus the student trained without it, paired over users: the gap
    distillation is meant to close."""
    from newsstudy.evaluation import paired_difference

    def scores(method: str) -> pd.Series:
        return per_user[per_user["method"] == method].set_index("user")[metric]

    return paired_difference(scores("teacher"), scores("none"))

