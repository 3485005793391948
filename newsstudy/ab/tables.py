"""Tables and figures of notebook 06_ab_simulation: our A/B test beside the paper's.

The paper's values come from :mod:`newsstudy.paper` (``AB_TEST``, ``AB_LABELS``,
``AB_DAYS``); nothing here restates them.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from newsstudy import paper, saving
from newsstudy.ab import stats


def comparison_table(results: dict, days: int) -> pd.DataFrame:
    """Ours beside the paper: arm values, lift [95% CI], p-values (analytic and bootstrap).

    ``results`` maps a metric key to a :class:`newsstudy.ab.stats.LiftResult`.
    """
    rows = []
    for key, result in results.items():
        published = paper.AB_TEST.get(key, {})
        rows.append({
            "metric": paper.AB_LABELS.get(key, key),
            "control": result.control, "treatment": result.treatment,
            "lift %": 100 * result.lift,
            "95% CI %": f"[{100 * result.ci_low:+.2f}, {100 * result.ci_high:+.2f}]",
            "p": result.p_value, "test": result.test,
            "bootstrap 95% CI %": f"[{100 * result.boot_ci_low:+.2f}, "
                                  f"{100 * result.boot_ci_high:+.2f}]",
            "bootstrap p": result.boot_p_value,
            "paper lift %": 100 * published["lift"] if published else float("nan"),
            "paper p": published.get("p_value", float("nan")),
            "days (ours / paper)": f"{days} / {paper.AB_DAYS}",
        })
    return pd.DataFrame(rows)


def list_stats(lists: pd.DataFrame, generation: Mapping) -> dict:
    """What the treatment's lists look like: users, well-formed share, queries per list,
    and how the generation went (distinct prompts, speed, whether it was cached)."""
    n_queries = lists["queries"].map(len)
    return {
        "users": int(len(lists)), "format_ok": float(lists["format_ok"].mean()),
        "with_queries": float((n_queries > 0).mean()), "mean_queries": float(n_queries.mean()),
        "distinct_prompts": generation["n_distinct_prompts"],
        "generation_seconds_when_run": generation["generation_seconds"],
        "users_per_second_when_run": generation["users_per_second"],
        "cached": generation["cached"],
    }


def plot_daily(daily: pd.DataFrame):
    """DAU, CTR and cold-user DAU per test day, one line per arm, each day's 95% Wilson
    interval as a bar; the y axis starts at zero, so the arms' gap is seen at its size."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = (("all", "dau_rate", "dau", "n_users", "DAU / arm users"),
              ("all", "ctr", "clicks", "impressions", "CTR (clicks / impressions)"),
              ("cold", "dau_rate", "dau", "n_users", "cold DAU / cold users"))
    for ax, (users, column, hits, trials, label) in zip(axes, panels, strict=True):
        for arm, style, shift in (("control", "--", -0.08), ("treatment", "-", 0.08)):
            part = daily[(daily["users"] == users) & (daily["arm"] == arm)]
            bounds = np.array([stats.wilson_interval(int(k), int(n))
                               for k, n in zip(part[hits], part[trials], strict=True)])
            errors = np.abs(bounds.T - part[column].to_numpy()) if len(part) else None
            ax.errorbar(part["day"] + shift, part[column], yerr=errors, fmt=style, marker="o",
                        capsize=2, label=arm)
        ax.set_xlabel("test day")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
    axes[0].legend()
    fig.suptitle("Daily metrics per arm (bars: 95% Wilson intervals)")
    fig.tight_layout()
    return fig


def plot_aa_p_values(aa_p: pd.DataFrame):
    """Histograms of the replicated A/A tests' p-values, against the uniform they should follow."""
    fig, axes = plt.subplots(1, len(aa_p.columns), figsize=(12, 3.2), sharey=True)
    for ax, name in zip(axes, aa_p.columns, strict=True):
        ax.hist(aa_p[name], bins=20, range=(0, 1), color=saving.OURS_COLOR)
        ax.axhline(len(aa_p) / 20, color=saving.PAPER_COLOR, ls="--", label="uniform")
        ax.set_title(paper.AB_LABELS[name])
        ax.set_xlabel("A/A p-value")
    axes[0].set_ylabel("replicates")
    axes[0].legend()
    fig.tight_layout()
    return fig


def users_for_paper_lifts(control: Mapping[str, stats.Metric], alpha: float, power: float,
                          coverage: Mapping[str, float]) -> dict[str, float]:
    """Users per arm at which each of the paper's lifts is the minimum detectable effect
    (a metric covering a share of the users, e.g. cold DAU, needs that many more)."""
    needed = {}
    for name, metric in control.items():
        mean, sd = stats.per_user_sd(metric)
        needed[name] = stats.users_per_arm_needed(sd, mean, paper.AB_TEST[name]["lift"],
                                                  alpha, power) / coverage.get(name, 1.0)
    return needed


def mde_at_our_users(control: Mapping[str, stats.Metric], alpha: float,
                     power: float) -> dict[str, float]:
    """Each metric's minimum detectable relative lift at the experiment's own arm size."""
    out = {}
    for name, metric in control.items():
        mean, sd = stats.per_user_sd(metric)
        out[name] = float(stats.minimum_detectable_effect(sd, mean, len(metric.x), alpha, power))
    return out


def plot_power(curve: pd.DataFrame, users_per_arm: int, power: float):
    """Minimum detectable lift against users per arm, with the paper's lifts and our arm size."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    names = list(dict.fromkeys(curve["metric"]))
    colors = dict(zip(names, plt.cm.tab10.colors, strict=False))
    for name, part in curve.groupby("metric", sort=False):
        color = colors[name]
        ax.plot(part["users_per_arm"], 100 * part["mde"], color=color,
                label=f"{paper.AB_LABELS[name]} (ours)")
        ax.axhline(100 * paper.AB_TEST[name]["lift"], color=color, ls=":",
                   label=f"{paper.AB_LABELS[name]}: paper's lift")
    ax.axvline(users_per_arm, color=saving.PAPER_COLOR, ls="--", label="our users per arm")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("users per arm")
    ax.set_ylabel(f"minimum detectable lift (%), power {power:.0%}")
    ax.legend(fontsize=8)
    return fig


def power_grid() -> np.ndarray:
    """Users per arm at which the MDE curve is drawn: 1,000 to about 30 million, log-spaced."""
    return np.unique(np.logspace(3, 7.5, 46).astype(int))


def describe_market(world, market, treated: np.ndarray, days: int) -> str:
    """The test's world in three lines: users and arms, news clicks before the test (warm
    against cold users), and the articles on offer each day."""
    clicks = np.asarray(market.history_clicks.sum(axis=1)).ravel()
    return (f"A/B world {world.manifest['world_hash']}: {market.n_users:,} users "
            f"({market.is_cold.mean():.0%} cold), {market.n_articles:,} articles; "
            f"{treated.sum():,} treatment / {(~treated).sum():,} control users\n"
            f"news clicks before the test: {clicks[~market.is_cold].mean():.1f} per warm user, "
            f"{clicks[market.is_cold].mean():.2f} per cold user\n"
            f"articles on offer per test day: {[len(market.pool(d)) for d in range(days)]}")


def example_users_markdown(world, market, treated: np.ndarray, lists: pd.DataFrame,
                           query_path, feed_size: int) -> list[str]:
    """Two warm treated users and one cold: their recent cleaned signals, the list the
    policy wrote, and what that list alone puts in the day-0 feed."""
    titles = world.articles["title"].to_numpy()
    day0 = market.pool(0)
    rows = (np.flatnonzero(treated & ~market.is_cold)[:2].tolist()
            + np.flatnonzero(treated & market.is_cold)[:1].tolist())
    lists_by_user = lists.set_index("user_id")
    events = world.clean_events()
    blocks = []
    for row in rows:
        user = int(market.user_ids[row])
        signals = events[events["user_id"] == user].sort_values("day").tail(8)
        ranks = query_path.ranks(np.array([row]), day0, 0, feed_size)[0]
        hits = [titles[day0[c]] for c in np.argsort(ranks) if ranks[c] < feed_size]
        blocks.append(
            f"### User {user} ({'cold' if market.is_cold[row] else 'warm'})\n"
            + "**recent cleaned signals**\n" + "\n".join(
                f"- {d}: {t}" for d, t in zip(signals["domain"], signals["text"], strict=True))
            + f"\n\n**list**: `{lists_by_user.loc[user, 'completion']}`\n\n**day-0 hits**\n"
            + "\n".join(f"- {t}" for t in hits[:5]))
    return blocks

