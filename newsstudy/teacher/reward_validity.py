"""Does the reward prefer what retrieves better, on the policy's own samples?

A reward can rank hand-made strategies in the right order (notebook 02) and still be noise
among the lists a policy actually writes, which differ in small ways. GRPO only sees the
reward's ranking *within* a user's group of G samples, so that is what is checked here:

* :func:`sample_table` draws G lists per user from a checkpoint with the policy's
  decoding, scores each with every reward and with the held-out Recall@10 (evaluation
  only; training never sees it);
* :func:`within_user_spearman`: per user, the Spearman correlation of a reward with
  Recall@10 across the G lists (users whose lists all tie on either are skipped), then the
  mean over users with a 95% t interval;
* :func:`best_of_g_gain`: Recall@10 of the list the reward ranks first (ties averaged)
  minus the mean Recall@10 of the G lists (the expected value of a random pick), paired
  over users (:func:`newsstudy.evaluation.paired_difference`);
* :func:`tied_share`: the share of users whose G lists all score the same (no advantage,
  no gradient).

The paper's five rewards are checked on lists from the whole-history prompts, the
verifiable reward on lists from the prompts before its target window, against the
users' own clicks in that window (:func:`verifiable_sample_table`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from newsstudy.evaluation import evaluate_completions, paired_difference
from newsstudy.rewards import REWARD_NAMES

METRIC = "recall@10"


def sample_table(pipeline, checkpoint, scorer, world, serving, users: Sequence[int],
                 n_samples: int, seed: int = 0, *, fusion: str,
                 user_prompts: dict[int, str] | None = None) -> pd.DataFrame:
    """One row per (user, sample): completion, the scorer's rewards (the paper's five, or
    the verifiable reward's terms) and their total, and Recall@10.

    ``user_prompts``: what the lists are sampled from (default: the whole-history prompts;
    the verifiable reward's checks sample from the prompts before its target window, so
    that no target is in the prompt). Users without held-out clicks are dropped (Recall@10
    is undefined for them).
    """
    completions = pipeline.complete(checkpoint, [int(u) for u in users], n_samples=n_samples,
                                    seed=seed, user_prompts=user_prompts)
    rows = [(int(u), j, text) for u, texts in completions.items() for j, text in enumerate(texts)]
    frame = pd.DataFrame(rows, columns=["user", "sample", "completion"])
    names = [*getattr(scorer, "reward_names", REWARD_NAMES), "total"]
    scored = scorer.score(frame["user"].tolist(), frame["completion"].tolist())
    frame = pd.concat([frame, scored[names].reset_index(drop=True)], axis=1)
    metrics = []
    for j in range(n_samples):
        part = frame[frame["sample"] == j]
        per_user = evaluate_completions(world, serving, dict(zip(part["user"], part["completion"],
                                                                 strict=True)), fusion=fusion)
        metrics.append(per_user[[METRIC]].assign(sample=j).rename_axis("user").reset_index())
    metrics = pd.concat(metrics)
    return frame.merge(metrics, on=["user", "sample"], how="inner")


def verifiable_sample_table(pipeline, checkpoint, world, serving, users: Sequence[int],
                            n_samples: int, seed: int = 0) -> pd.DataFrame:
    """:func:`sample_table` for the verifiable reward on validation users: lists sampled
    from their prompts before the reward's target window, scored against their own clicks
    in it (:func:`newsstudy.rewards.verifiable.history_targets`, a check, never training)
    and by their held-out Recall@10. Users without a click in the window are dropped."""
    from newsstudy.rewards.verifiable import RetrievalReward

    reward = RetrievalReward.from_settings(world, pipeline.settings, users, checks=True)
    users = [int(u) for u in users if int(u) in reward.targets]
    return sample_table(pipeline, checkpoint, reward, world, serving, users, n_samples, seed,
                        fusion=pipeline.settings.fusion,
                        user_prompts=pipeline.window_prompts(users))


def within_user_spearman(table: pd.DataFrame, columns: Sequence[str] = (*REWARD_NAMES, "total"),
                         metric: str = METRIC) -> pd.DataFrame:
    """Per reward column: mean within-user Spearman with ``metric``, its 95% interval, n users."""
    out = []
    for column in columns:
        rhos = []
        for _, group in table.groupby("user"):
            x, y = group[column].to_numpy(float), group[metric].to_numpy(float)
            if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                continue
            rhos.append(stats.spearmanr(x, y).statistic)
        rhos = np.asarray(rhos, dtype=float)
        n = len(rhos)
        mean = float(rhos.mean()) if n else float("nan")
        half = float(stats.t.ppf(0.975, n - 1) * rhos.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        out.append({"reward": column, "spearman": mean, "low": mean - half, "high": mean + half,
                    "n_users": n})
    return pd.DataFrame(out)


def best_pick(table: pd.DataFrame, column: str, metric: str = METRIC) -> pd.Series:
    """Per user: ``metric`` of the list ranked first by ``column`` (ties averaged)."""
    def first(group: pd.DataFrame) -> float:
        top = group[column].to_numpy(float)
        return float(group.loc[top == top.max(), metric].mean())

    return table.groupby("user")[[column, metric]].apply(first).rename(f"best by {column}")


def best_of_g_gain(table: pd.DataFrame, column: str = "total", metric: str = METRIC):
    """Paired gain of picking the best of G by ``column`` over a random pick (mean of G)."""
    random_pick = table.groupby("user")[metric].mean()
    return paired_difference(best_pick(table, column, metric), random_pick)


def validity_table(table: pd.DataFrame, columns: Sequence[str] = (*REWARD_NAMES, "total"),
                   metric: str = METRIC) -> pd.DataFrame:
    """Spearman and best-of-G gain (with 95% interval) for each reward column."""
    rho = within_user_spearman(table, columns, metric).set_index("reward")
    rows = []
    for column in columns:
        gain = best_of_g_gain(table, column, metric)
        rows.append({"reward": column, "spearman": rho.loc[column, "spearman"],
                     "spearman low": rho.loc[column, "low"], "spearman high": rho.loc[column, "high"],
                     "users ranked": int(rho.loc[column, "n_users"]),
                     "best-of-G gain": gain.diff, "gain low": gain.low, "gain high": gain.high,
                     "n users": gain.n, "tied groups": tied_share(table, column)})
    return pd.DataFrame(rows)


def tied_share(table: pd.DataFrame, column: str) -> float:
    """Share of users whose G lists all score the same on ``column``: groups in which
    GRPO's advantages are all zero, so they teach nothing."""
    spread = table.groupby("user")[column].agg(lambda values: float(np.ptp(values)))
    return float((spread <= 1e-12).mean()) if len(spread) else float("nan")
