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

The teacher's gates (03), on validation users:

- ``imitation``: the prompt-only policy, decoded as served, reaches at least
  ``IMITATION_BAR`` of its demonstrations' Recall@10 (ratio of means over the same users).
- ``format``: at least ``FORMAT_BAR`` of the lists of the prompt-only policy and of the
  teacher are well-formed, in the serving decoding.
- ``reward validity``: among the prompt-only policy's own G samples per user, picking the
  best by the training reward beats a random pick in Recall@10, paired 95% interval above
  zero (:mod:`newsstudy.teacher.reward_validity`).
- ``GRPO improves``: the teacher's total reward is above the prompt-only policy's, paired
  95% interval above zero; and its entropy does not drift upward (the mean of the last
  fifth of the steps at most ``ENTROPY_DRIFT`` above the mean of the first fifth). The
  same for the verifiable reward's teacher and its reward (``verifiable improves``), whose
  validity is checked as the paper's reward's is (``verifiable validity``).
- ``beats prompt-only`` and ``half gap``: the teacher that feeds 04-06 beats the
  prompt-only policy in validation Recall@10 (paired interval above zero) and closes at
  least ``GAP_SHARE`` of the gap between prompt-only and the ``infer`` heuristic.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from newsstudy.evaluation import paired_difference
from newsstudy.results import Paired, PairedGate, Record, keyed

INFERENCE_LIFT = 0.15
CEILING_LIFT = 0.20
DEGENERATE_MARGIN = 0.10
IMITATION_BAR = 0.90
GAP_SHARE = 0.5
FORMAT_BAR = 0.95
ENTROPY_DRIFT = 0.10


class DegenerateStrategy(Record):
    """One degenerate strategy against copying: its mean composite reward and share."""

    total: float
    share_of_copy: float | None
    passes: bool


class DegenerateGate(Record):
    """Every degenerate strategy at least ``margin`` below copying's composite reward."""

    margin: float
    passes: bool
    strategies: dict[str, DegenerateStrategy]


class OrderGate(Record):
    """The mean composite reward strictly decreasing along ``order``."""

    order: list[str]
    totals: list[float]
    passes: bool


class ImitationGate(Record):
    """The policy's mean metric as a share (``ratio``) of its demonstrations'."""

    policy: float | None
    demonstrations: float | None
    ratio: float | None
    bar: float
    paired: Paired
    passes: bool


class FormatGate(Record):
    """Every policy's well-formed share at least ``bar``."""

    shares: dict[str, float | None]
    bar: float
    passes: bool


class EntropyRun(Record):
    """One training run's mean entropy over its first and last fifth of steps."""

    first: float | None
    last: float | None
    passes: bool


class EntropyGate(Record):
    """No run's entropy drifts up by more than ``tolerance``."""

    tolerance: float
    runs: dict[str, EntropyRun]
    passes: bool


def _per_user(scores: pd.DataFrame, method_col: str, method: str, metric: str) -> pd.Series:
    rows = scores[scores[method_col] == method]
    if rows.empty:
        raise ValueError(f"no rows for {method_col} = {method!r}")
    return rows.groupby("user")[metric].mean()


def lift_gate(scores: pd.DataFrame, candidate: str, reference: str, min_lift: float, *,
              method_col: str = "strategy", metric: str = "recall@10") -> PairedGate:
    """Does ``candidate`` beat ``reference`` by ``min_lift`` (relative), paired CI above 0?

    ``scores``: long per-user table with ``user``, ``method_col`` and ``metric`` columns.
    """
    gap = paired_difference(_per_user(scores, method_col, candidate, metric),
                            _per_user(scores, method_col, reference, metric))
    return PairedGate(candidate=candidate, reference=reference, metric=metric,
                      min_lift=min_lift, **gap.to_dict(),
                      passes=bool(gap.above_zero() and gap.relative >= min_lift))


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


def degenerate_record(table: pd.DataFrame, margin: float = DEGENERATE_MARGIN) -> DegenerateGate:
    """The :func:`degenerate_gate` table as the results record, keyed by strategy."""
    rows = {row["strategy"]: DegenerateStrategy(total=row["total"],
                                                share_of_copy=row["share of copy"],
                                                passes=row["passes"])
            for row in table.to_dict(orient="records")}
    return DegenerateGate(margin=margin, passes=bool(table["passes"].all()),
                          strategies=keyed(rows))


def order_gate(totals: pd.Series, order: Sequence[str]) -> OrderGate:
    """Is the mean composite reward strictly decreasing along ``order``?"""
    values = [float(totals[name]) for name in order]
    return OrderGate(order=list(order), totals=values,
                     passes=all(a > b for a, b in zip(values, values[1:], strict=False)))


def imitation_gate(policy: pd.Series, demonstrations: pd.Series,
                   bar: float = IMITATION_BAR) -> ImitationGate:
    """Policy's mean per-user metric over its demonstrations', on the users both have."""
    users = policy.index.intersection(demonstrations.index)
    ours, theirs = float(policy[users].mean()), float(demonstrations[users].mean())
    ratio = ours / theirs if theirs > 0 else float("nan")
    gap = paired_difference(policy[users], demonstrations[users])
    return ImitationGate(policy=ours, demonstrations=theirs, ratio=ratio, bar=bar,
                         paired=Paired.of(gap), passes=bool(ratio >= bar))


def format_gate(shares: dict[str, float], bar: float = FORMAT_BAR) -> FormatGate:
    """Every policy's well-formed share at least ``bar`` (no shares: fails); the shares
    are keyed by the policies' results keys."""
    return FormatGate(shares=keyed({k: float(v) for k, v in shares.items()}), bar=bar,
                      passes=bool(shares) and all(v >= bar for v in shares.values()))


def interval_gate(gap, what: str) -> PairedGate:
    """A paired difference whose 95% interval must lie above zero."""
    return PairedGate(what=what, **gap.to_dict(), passes=bool(gap.above_zero()))


class ShareGate(Record):
    """The share of a gap a policy closes (with its bootstrap interval), against a bar."""

    what: str
    share: float | None
    low: float | None
    high: float | None
    n: int
    bar: float
    passes: bool


def share_gate(closed, what: str, bar: float = GAP_SHARE) -> ShareGate:
    """Does the teacher close at least ``bar`` of the gap between prompt-only and ``infer``
    (``closed``: :class:`newsstudy.teacher.comparison.GapClosed`; the point estimate is
    read against the bar, its interval is recorded beside it)?"""
    share = closed.share
    return ShareGate(what=what, share=share, low=closed.share_low, high=closed.share_high,
                     n=closed.n, bar=bar, passes=bool(share == share and share >= bar))


def entropy_gate(curves: dict, tolerance: float = ENTROPY_DRIFT) -> EntropyGate:
    """Per run: mean entropy of the last fifth of the steps against the first fifth."""
    runs = {}
    for name, frame in curves.items():
        if "entropy" not in frame or frame["entropy"].dropna().empty:
            continue
        values = frame["entropy"].dropna().to_numpy(float)
        fifth = max(len(values) // 5, 1)
        first, last = float(values[:fifth].mean()), float(values[-fifth:].mean())
        runs[str(name)] = EntropyRun(first=first, last=last,
                                     passes=bool(last <= first * (1 + tolerance)))
    return EntropyGate(tolerance=tolerance, runs=keyed(runs),
                       passes=bool(runs) and all(r.passes for r in runs.values()))
