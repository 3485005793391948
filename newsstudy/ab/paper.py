"""The paper's online A/B test (PAPER.md, "Its tables": 7 days, student as an extra path).

Lifts are relative (treatment / control - 1); the paper reports no arm values, intervals
or sample sizes.
"""

from __future__ import annotations

import pandas as pd

PAPER_AB_DAYS = 7
"""Length of the paper's online test in days."""

PAPER_AB_TEST: dict[str, dict[str, float]] = {
    "dau": {"lift": 0.0095, "p_value": 0.012},
    "ctr": {"lift": 0.0022, "p_value": 0.031},
    "cold_dau": {"lift": 0.0438, "p_value": 0.004},
}
"""Metric -> relative lift and p-value, as published."""

DISPLAY_NAMES: dict[str, str] = {"dau": "DAU", "ctr": "CTR", "cold_dau": "Cold-user DAU"}
"""Metric key -> the paper's name for it."""


def comparison_table(results: dict, days: int) -> pd.DataFrame:
    """Ours beside the paper: arm values, lift [95% CI], p-values (analytic and bootstrap).

    ``results`` maps a metric key to a :class:`newsstudy.ab.stats.LiftResult`.
    """
    rows = []
    for key, result in results.items():
        published = PAPER_AB_TEST.get(key, {})
        rows.append({
            "metric": DISPLAY_NAMES.get(key, key),
            "control": result.control, "treatment": result.treatment,
            "lift %": 100 * result.lift,
            "95% CI %": f"[{100 * result.ci_low:+.2f}, {100 * result.ci_high:+.2f}]",
            "p": result.p_value, "test": result.test,
            "bootstrap 95% CI %": f"[{100 * result.boot_ci_low:+.2f}, "
                                  f"{100 * result.boot_ci_high:+.2f}]",
            "bootstrap p": result.boot_p_value,
            "paper lift %": 100 * published["lift"] if published else float("nan"),
            "paper p": published.get("p_value", float("nan")),
            "days (ours / paper)": f"{days} / {PAPER_AB_DAYS}",
        })
    return pd.DataFrame(rows)
