"""The baselines' tables: per-user metrics summarised, beside the paper's rows.

Confidence intervals: ``metrics.mean_with_ci`` over the per-user values pooled across
seeds (the seeds' spread is also reported, as the std of the per-seed means).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from newsstudy import paper
from newsstudy.baselines import BASELINES
from newsstudy.baselines.paper import DISPLAY_NAMES
from newsstudy.metrics import DEFAULT_METRICS, METRIC_LABELS, mean_with_ci

SHORT = METRIC_LABELS


def summarise(per_user: pd.DataFrame, metrics=DEFAULT_METRICS) -> pd.DataFrame:
    """Long table: method, metric, mean, ci_low, ci_high, seed_std, n_seeds, paper."""
    rows = []
    for method, group in per_user.groupby("method", sort=False):
        for metric in metrics:
            # One value per user (averaged over seeds): users, not seeds x users, are the
            # independent units; seed-to-seed spread is reported apart as seed_std.
            mean, low, high = mean_with_ci(group.groupby("user")[metric].mean().to_numpy())
            seed_means = group.groupby("seed")[metric].mean()
            rows.append({"method": method, "metric": metric, "mean": mean, "ci_low": low,
                         "ci_high": high, "seed_std": float(seed_means.std(ddof=1))
                         if len(seed_means) > 1 else 0.0, "n_seeds": len(seed_means),
                         "paper": paper.OFFLINE.get(method, {}).get(metric, np.nan)})
    return pd.DataFrame(rows)


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per method (paper order, LLM rows last): 'mean [low, high]' per metric, the
    paper beside; the best baseline is marked."""
    out = []
    baseline_rows = summary[summary["method"].isin(BASELINES) & (summary["metric"] == "recall@10")]
    best = baseline_rows.set_index("method")["mean"].idxmax() if len(baseline_rows) else None
    order = [*BASELINES, *paper.LLM_ROW_OF.values(), *paper.STUDENT_ROW_OF.values()]
    for method in [m for m in order if m in set(summary["method"])]:
        rows = summary[summary["method"] == method].set_index("metric")
        row = {"method": DISPLAY_NAMES.get(method, method) + (" (best)" if method == best
                                                               else "")}
        for metric, short in SHORT.items():
            r = rows.loc[metric]
            row[short] = f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        for metric in ("recall@10", "ndcg@10"):
            row[f"{SHORT[metric]} seed std"] = round(float(rows.loc[metric, "seed_std"]), 4)
            published = rows.loc[metric, "paper"]
            row[f"paper {SHORT[metric]}"] = "" if np.isnan(published) else f"{published:.3f}"
        out.append(row)
    return pd.DataFrame(out)


def _paper_rows(per_user: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The rows of the methods in ``names``, renamed to the paper's keys."""
    rows = per_user[per_user["method"].isin(names)]
    return rows.assign(method=rows["method"].map(names))


def complete_offline(baselines: pd.DataFrame | None, llm_per_user: pd.DataFrame | None,
                     student_per_user: pd.DataFrame) -> pd.DataFrame:
    """The paper's whole offline table as one per-user frame, on the users every part scored.

    ``baselines``: 03b's per-user table (or None); ``llm_per_user``: 03's (prompt-only and
    the RL teacher; or None); ``student_per_user``: 05's (its on-policy student becomes the
    distilled-student row). Rows are renamed to the paper's keys (``display_table`` order).
    """
    columns = ["method", "seed", "user", *DEFAULT_METRICS]
    parts = []
    if baselines is not None:
        parts.append(baselines[baselines["method"].isin(BASELINES)][columns])
    if llm_per_user is not None:
        parts.append(_paper_rows(llm_per_user, paper.LLM_ROW_OF)[columns])
    parts.append(_paper_rows(student_per_user, paper.STUDENT_ROW_OF)[columns])
    common = set.intersection(*(set(p["user"]) for p in parts))
    both = pd.concat(parts, ignore_index=True)
    return both[both["user"].isin(common)]


def warm_cold_table(per_user: pd.DataFrame, metrics=("recall@10", "ndcg@10")) -> pd.DataFrame:
    """Mean per method for warm and cold test users (pooled over seeds), with user counts."""
    frame = per_user.assign(group=np.where(per_user["is_cold"], "cold", "warm"))
    table = frame.groupby(["method", "group"])[list(metrics)].mean().unstack("group")
    table.columns = [f"{SHORT[m]} {g}" for m, g in table.columns]
    counts = frame[frame["seed"] == frame.groupby("method")["seed"].transform("min")]
    n = counts.groupby("group")["user"].nunique()
    order = [m for m in BASELINES if m in table.index]
    table = table.loc[order].rename(index=DISPLAY_NAMES).reset_index()
    table["n warm / cold"] = f"{n.get('warm', 0)} / {n.get('cold', 0)}"
    return table


def plot_summary(summary: pd.DataFrame):
    """Bars of R@10 and N@10 per method with 95% CIs; the paper's values as grey markers."""
    import matplotlib.pyplot as plt

    from newsstudy.saving import OURS_COLOR, PAPER_COLOR

    methods = [m for m in BASELINES if m in set(summary["method"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, metric in zip(axes, ("recall@10", "ndcg@10"), strict=True):
        rows = summary[summary["metric"] == metric].set_index("method").loc[methods]
        x = np.arange(len(methods))
        err = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
        ax.bar(x, rows["mean"], yerr=np.nan_to_num(err), color=OURS_COLOR, capsize=3,
               label="ours (95% CI)")
        ax.scatter(x, rows["paper"], color=PAPER_COLOR, marker="D", s=40, zorder=3,
                   label="paper")
        ax.set_xticks(x, [DISPLAY_NAMES[m].split(" (")[0] for m in methods], rotation=30,
                      ha="right")
        ax.set_title(SHORT[metric])
        ax.set_ylabel(f"{SHORT[metric]} (mean over test users)")
    axes[0].legend(loc="upper left")
    fig.tight_layout()
    return fig


def offline_table_from_files(profile: str, student_per_user: pd.DataFrame,
                             stale: set[str]) -> tuple[pd.DataFrame, list[str]]:
    """The paper's whole offline table (:func:`complete_offline`, :func:`display_table`)
    from 03b's and 03's per-user tables on disk and the student's rows, with the number of
    users every part scored.

    A part whose notebook is in ``stale`` (run on other inputs) or has not written its
    table is left out; its notebook is returned in the second value.
    """
    from newsstudy import paths

    parts, left_out = {}, []
    for notebook, name in (("03b_baselines", "03b_per_user"), ("03_grpo", "03_per_user")):
        csv = paths.tables_dir(profile) / f"{name}.csv"
        if notebook in stale or not csv.exists():
            left_out.append(notebook)
            parts[notebook] = None
        else:
            parts[notebook] = pd.read_csv(csv)
    complete = complete_offline(parts["03b_baselines"], parts["03_grpo"], student_per_user)
    table = display_table(summarise(complete))
    table.insert(1, "n users", complete["user"].nunique())
    return table, left_out

