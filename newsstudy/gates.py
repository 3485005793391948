"""Instrument checks of the world and the rewards, written beside the verdicts they guard.

A number about the paper is read only once the machinery that produced it is shown to
work. These functions compute the world's and the rewards' gates from per-user scores;
notebooks 02 and 03b write their results to ``results/<notebook>.json`` under
``"gates"``, and the tests assert them. Every comparison of two methods is a paired
difference on the same users (:func:`newsstudy.evaluation.paired_difference`).

- ``inference pays`` (02): the best legal reference strategy (reads only cleaned signals
  and the corpus) beats copying the signals by at least ``INFERENCE_LIFT`` in Recall@10,
  with the paired 95% interval of the difference above zero.
- ``ceiling clears baselines`` (03b): the oracle list, served like any list, beats the
  best trained baseline by at least ``CEILING_LIFT``, paired interval above zero.
- ``degenerate strategies`` (02): every degenerate list (random words, generic queries,
  one query repeated, malformed output, each single-reward hack) has a composite reward
  at least ``DEGENERATE_MARGIN`` below copying's.
- ``reward order`` (02): the composite ranks oracle > best legal inference > copy >
  generic > random words.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from newsstudy.evaluation import paired_difference

INFERENCE_LIFT = 0.15
CEILING_LIFT = 0.20
DEGENERATE_MARGIN = 0.10


def _per_user(scores: pd.DataFrame, method_col: str, method: str, metric: str) -> pd.Series:
    rows = scores[scores[method_col] == method]
    if rows.empty:
        raise ValueError(f"no rows for {method_col} = {method!r}")
    return rows.groupby("user")[metric].mean()


def lift_gate(scores: pd.DataFrame, candidate: str, reference: str, min_lift: float, *,
              method_col: str = "strategy", metric: str = "recall@10") -> dict:
    """Does ``candidate`` beat ``reference`` by ``min_lift`` (relative), paired CI above 0?

    ``scores``: long per-user table with ``user``, ``method_col`` and ``metric`` columns.
    """
    gap = paired_difference(_per_user(scores, method_col, candidate, metric),
                            _per_user(scores, method_col, reference, metric))
    return {"candidate": candidate, "reference": reference, "metric": metric,
            "min_lift": min_lift, **gap.to_dict(),
            "passes": bool(gap.above_zero() and gap.relative >= min_lift)}


def best_method(scores: pd.DataFrame, methods: Sequence[str], *, method_col: str = "strategy",
                metric: str = "recall@10") -> str:
    """The method of ``methods`` with the highest mean ``metric`` (users averaged first)."""
    means = {m: _per_user(scores, method_col, m, metric).mean() for m in methods}
    return max(means, key=means.get)


def degenerate_gate(totals: pd.Series, copy: str, degenerate: Sequence[str],
                    margin: float = DEGENERATE_MARGIN) -> pd.DataFrame:
    """Per degenerate strategy: its mean composite reward as a share of copying's, and
    whether it stays at least ``margin`` below it."""
    rows = [{"strategy": name, "total": float(totals[name]),
             "share of copy": float(totals[name] / totals[copy]),
             "passes": bool(totals[name] <= (1 - margin) * totals[copy])}
            for name in degenerate]
    return pd.DataFrame(rows)


def order_gate(totals: pd.Series, order: Sequence[str]) -> dict:
    """Is the mean composite reward strictly decreasing along ``order``?"""
    values = [float(totals[name]) for name in order]
    return {"order": list(order), "totals": values,
            "passes": all(a > b for a, b in zip(values, values[1:], strict=False))}
