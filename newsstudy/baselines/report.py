"""Run every baseline over seeds, and turn per-user metrics into the notebook's tables.

``run_baselines`` returns one row per (method, seed, test user) with the shared
protocol's metrics and ``is_cold``; deterministic baselines (popularity, content) run
once. Confidence intervals: ``metrics.mean_with_ci`` over the per-user values pooled
across seeds (the seeds' spread is also reported, as the std of the per-seed means).
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict

import numpy as np
import pandas as pd

from newsstudy import evaluation
from newsstudy.baselines import BASELINES, TRAINED, TrainSettings
from newsstudy.baselines.common import BaselineData
from newsstudy.baselines.paper import DISPLAY_NAMES, LLM_ROWS, PAPER_OFFLINE_TABLE, STUDENT_ROWS
from newsstudy.metrics import DEFAULT_METRICS, METRIC_LABELS, mean_with_ci

SHORT = METRIC_LABELS


def run_baselines(world, data: BaselineData, settings: TrainSettings, n_seeds: int,
                  seed: int, top_n: int = 100, names=None, log=print
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-user metrics, per-epoch training logs and seconds per method, in this process."""
    runs = [fit_and_rank(world, data, settings, name, s, top_n)
            for name, s in baseline_jobs(names, n_seeds, seed)]
    return _collect(runs, log)


def run_baselines_in_parallel(profile: str, text_embedder: str, val_days: int,
                              settings: TrainSettings, n_seeds: int, seed: int,
                              top_n: int = 100, names=None, log=print, workers: int | None = None
                              ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """:func:`run_baselines`, each (method, seed) in a single-thread worker process.

    Each worker loads the profile's world and prepares the baselines' data once, then
    takes jobs, longest first. Every fit is seeded and single-threaded either way, so the
    result is the serial one.
    """
    from newsstudy.parallel import map_jobs

    jobs = [(profile, text_embedder, val_days, asdict(settings), name, s, top_n)
            for name, s in baseline_jobs(names, n_seeds, seed)]
    order = sorted(range(len(jobs)), key=lambda i: TRAINED_COST.get(jobs[i][4], 0), reverse=True)
    done = map_jobs(_baseline_job, [jobs[i] for i in order], workers)
    runs = [None] * len(jobs)
    for i, run in zip(order, done, strict=True):
        runs[i] = run
    return _collect(runs, log)


TRAINED_COST = {"sasrec": 5, "nrhub": 4, "pinsage": 4, "gru4rec": 3, "hstu": 3}
"""Rough relative training cost per method (measured on the default world), so the
longest jobs start first."""


def baseline_jobs(names, n_seeds: int, seed: int) -> list[tuple[str, int]]:
    """(method, seed) pairs: trained methods over ``n_seeds`` seeds, the others once."""
    return [(name, s) for name in (names or list(BASELINES))
            for s in ([seed + i for i in range(n_seeds)] if name in TRAINED else [seed])]


def fit_and_rank(world, data: BaselineData, settings: TrainSettings, name: str, seed: int,
                 top_n: int) -> tuple[str, pd.DataFrame, list[dict], float]:
    """Fit one baseline for one seed: its name, per-user metrics, training log, seconds."""
    started = time.perf_counter()
    model = BASELINES[name]().fit(data, settings, seed)
    frame = evaluation.evaluate_rankings(world, model.rank(data.test_users, top_n))
    frame = frame.reset_index().assign(method=name, seed=seed)
    history = [{"method": name, "seed": seed, **row} for row in model.history]
    return name, frame, history, time.perf_counter() - started


@functools.lru_cache(maxsize=1)
def _prepared(profile: str, text_embedder: str, val_days: int):
    from newsstudy import data as world_data
    from newsstudy.baselines import prepare

    world = world_data.load_world(profile)
    return world, prepare(world, text_embedder, val_days)


def _baseline_job(profile: str, text_embedder: str, val_days: int, settings: dict, name: str,
                  seed: int, top_n: int) -> tuple[str, pd.DataFrame, list[dict], float]:
    world, data = _prepared(profile, text_embedder, val_days)
    return fit_and_rank(world, data, TrainSettings(**settings), name, seed, top_n)


def _collect(runs, log) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    frames, logs, seconds = [], [], {}
    for name, frame, history, spent in runs:
        frames.append(frame)
        logs.extend(history)
        seconds[name] = round(seconds.get(name, 0.0) + spent, 2)
    for name, spent in seconds.items():
        log(f"{name}: {spent:.1f}s of training and ranking")
    per_user = pd.concat(frames, ignore_index=True)
    per_user = per_user[["method", "seed", "user", "is_cold", *DEFAULT_METRICS]]
    return per_user, pd.DataFrame(logs), seconds


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
                         "paper": PAPER_OFFLINE_TABLE.get(method, {}).get(metric, np.nan)})
    return pd.DataFrame(rows)


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per method (paper order, LLM rows last): 'mean [low, high]' per metric, the
    paper beside; the best baseline is marked."""
    out = []
    baseline_rows = summary[summary["method"].isin(BASELINES) & (summary["metric"] == "recall@10")]
    best = baseline_rows.set_index("method")["mean"].idxmax() if len(baseline_rows) else None
    order = [*BASELINES, *LLM_ROWS.values(), *STUDENT_ROWS.values()]
    for method in [m for m in order if m in set(summary["method"])]:
        rows = summary[summary["method"] == method].set_index("metric")
        row = {"method": DISPLAY_NAMES.get(method, method) + (" (best)" if method == best
                                                               else "")}
        for metric, short in SHORT.items():
            r = rows.loc[metric]
            row[short] = f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        for metric in ("recall@10", "ndcg@10"):
            row[f"{SHORT[metric]} seed std"] = round(float(rows.loc[metric, "seed_std"]), 4)
            paper = rows.loc[metric, "paper"]
            row[f"paper {SHORT[metric]}"] = "" if np.isnan(paper) else f"{paper:.3f}"
        out.append(row)
    return pd.DataFrame(out)


def _paper_rows(per_user: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The rows of the methods in ``names``, renamed to the paper's keys."""
    rows = per_user[per_user["method"].isin(names)]
    return rows.assign(method=rows["method"].map(names))


def with_llm_rows(per_user: pd.DataFrame, llm_per_user: pd.DataFrame) -> pd.DataFrame:
    """Baselines' per-user table plus notebook 03's LLM rows, on the users both scored."""
    llm = _paper_rows(llm_per_user, LLM_ROWS)
    common = set(per_user["user"]) & set(llm["user"])
    columns = ["method", "seed", "user", "is_cold", *DEFAULT_METRICS]
    both = pd.concat([per_user[columns], llm[columns]], ignore_index=True)
    return both[both["user"].isin(common)]


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
        parts.append(_paper_rows(llm_per_user, LLM_ROWS)[columns])
    parts.append(_paper_rows(student_per_user, STUDENT_ROWS)[columns])
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


def results_dict(summary: pd.DataFrame) -> dict:
    """method -> metric -> {mean, ci_low, ci_high, seed_std, paper} for the results JSON."""
    out: dict = {}
    for r in summary.itertuples():
        out.setdefault(r.method, {})[r.metric] = {
            "mean": r.mean, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "seed_std": r.seed_std, "paper": None if np.isnan(r.paper) else r.paper}
    return out


def plot_summary(summary: pd.DataFrame):
    """Bars of R@10 and N@10 per method with 95% CIs; the paper's values as grey markers."""
    import matplotlib.pyplot as plt

    from newsstudy.reporting import OURS_COLOR, PAPER_COLOR

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


def warm_cold_dict(per_user: pd.DataFrame, metrics=("recall@10", "ndcg@10")) -> dict:
    """method -> {"warm": {metric: mean}, "cold": {...}} for the results JSON."""
    out: dict = {}
    for (method, cold), group in per_user.groupby(["method", "is_cold"]):
        out.setdefault(method, {})["cold" if cold else "warm"] = {
            m: float(group[m].mean()) for m in metrics}
    return out
