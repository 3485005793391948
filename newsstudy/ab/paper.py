"""Our A/B results beside the paper's online test (its values: :mod:`newsstudy.paper`)."""

from __future__ import annotations

import pandas as pd

from newsstudy import paper

PAPER_AB_DAYS = paper.AB_DAYS
PAPER_AB_TEST = paper.AB_TEST
DISPLAY_NAMES = paper.AB_LABELS


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
