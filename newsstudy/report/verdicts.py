"""The rules that turn a claim's parts into its verdict, and the records a check returns.

Every number in the claims table is read from ``reports/<profile>/results/<notebook>.json``
by the checks (:mod:`newsstudy.report.checks`); nothing is typed by hand except the paper's numbers
(``newsstudy.paper``). A claim is split into *parts* (e.g. "RL teacher > GRU"),
each of which

- **holds clearly** when ours is on the paper's side beyond the noise: for a part that
  compares two methods scored on the same users, the paired 95% interval of the per-user
  difference (``evaluation.paired_difference``) lies above zero, read from the per-user
  tables the notebooks wrote (:mod:`newsstudy.report.loading`); when those are not on disk, the 95% intervals of the
  two sides do not overlap (a conservative test), and the part says "separate intervals
  (no per-user data)"; or p < 0.05 where the notebook reports a p-value, or a threshold is
  met;
- **holds in direction** when the means are ordered as in the paper but not clearly;
- **does not hold** otherwise.

Verdict of a claim: *reproduced* when every part holds clearly; *partly* when at least one
part holds clearly and at least half of them hold at least in direction (a claim whose
parts all hold only in direction, inside the noise, is not counted as partly
reproduced); *not reproduced* otherwise;
*not run* when a results file (or a key in it) is missing. The "where we differ" column
lists the parts that fall short, in words, from the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from newsstudy.evaluation import PairedDifference
from newsstudy.results import Estimate, Paired

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN = "reproduced", "partly", "not reproduced", "not run"


UNTESTABLE = "untestable in this world"


VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN, UNTESTABLE)


ALPHA = 0.05


NO_PER_USER = "no per-user data"


class Missing(Exception):
    """A results file or key a claim needs is not there (the claim is "not run")."""


def number(value: Any, where: str) -> float:
    """A finite number, or ``Missing`` naming where it was expected."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Missing(f"{where}: expected a number, got {value!r}")
    return float(value)


def known(estimate: Estimate | None, where: str) -> Estimate:
    """An estimate whose mean is a number, or ``Missing`` naming where it was expected."""
    if estimate is None or estimate.mean is None:
        raise Missing(f"{where}: no value recorded")
    return estimate


@dataclass(frozen=True)
class Part:
    """One comparison inside a claim."""

    label: str
    holds: bool
    clearly: bool
    weak: str = "intervals overlap"  # why a part that holds does not hold clearly
    detail: str = ""  # how the two sides were compared (paired diff, or separate intervals)


def greater(label: str, a: Estimate, b: Estimate) -> Part:
    """``a > b``: clearly when both have intervals and they do not overlap."""
    holds = a.mean > b.mean
    both = a.has_interval() and b.has_interval()
    clearly = holds and both and a.low > b.high
    weak = "intervals overlap" if both else "no interval recorded"
    return Part(label, holds, clearly, weak)


def beats(label: str, a: Estimate, b: Estimate, paired: PairedDifference | str) -> Part:
    """Method ``a`` > method ``b``, on the same users where ``paired`` is a difference.

    Paired: holds when the mean per-user difference is positive, clearly when its 95%
    interval is above zero; the part's detail shows the difference, interval and n.
    ``paired`` a text (why no pairing): ``greater`` on the separate intervals, saying so.
    """
    if isinstance(paired, str):
        part = greater(label, a, b)
        both = a.has_interval() and b.has_interval()
        return replace(part, detail=f"separate intervals ({paired})" if both else paired)
    return Part(label, paired.diff > 0, paired.above_zero(), "paired interval includes 0",
                paired.text())


def threshold(label: str, ok: bool) -> Part:
    """A part that either holds (clearly) or does not."""
    return Part(label, ok, ok)


@dataclass(frozen=True)
class Effect:
    """A claim's headline effect: what is compared, the paper's value and ours.

    ``ours`` carries our 95% interval where one exists (paired where per-user data
    exist); ``unit`` is how to print it (``"R@10"``, ``"%"``, ``"x"``).
    """

    label: str
    paper: float
    ours: Estimate
    unit: str = "R@10"


@dataclass
class Outcome:
    """What a check found: the numbers in words, the parts of the claim, its headline."""

    ours: str
    parts: list[Part]
    context: str = ""
    effect: Effect | None = None


@dataclass
class Claim:
    """One row of the claims table."""

    key: str
    statement: str
    notebooks: tuple[str, ...]
    paper: str
    ours: str
    verdict: str
    note: str
    parts: list[Part] = field(default_factory=list)
    effect: Effect | None = None


def paired_estimate(paired: PairedDifference | str, a: Estimate, b: Estimate) -> Estimate:
    """The difference ``a - b``: paired with its interval, else the difference of means."""
    if isinstance(paired, PairedDifference):
        return Estimate.of(paired.diff, paired.low, paired.high, paired.n)
    return Estimate.of(a.mean - b.mean)


def as_paired(record: Paired) -> PairedDifference:
    """The ``PairedDifference`` of a results file's :class:`Paired` record."""
    def value(x: float | None) -> float:
        return math.nan if x is None else float(x)

    return PairedDifference(
        mean_a=value(record.mean_a), mean_b=value(record.mean_b), diff=value(record.diff),
        low=value(record.low), high=value(record.high), n=record.n,
        p_value=value(record.p_value), relative=value(record.relative))


def verdict(parts: list[Part]) -> str:
    """The verdict of a claim from its parts (module docstring)."""
    if not parts:
        return NOT_RUN
    if all(part.clearly for part in parts):
        return REPRODUCED
    held = sum(part.holds for part in parts)
    clear = any(part.clearly for part in parts)
    return PARTLY if clear and 2 * held >= len(parts) else NOT_REPRODUCED


def explain(parts: list[Part]) -> str:
    """The parts that fall short, in one sentence each kind, each with how it was compared;
    then the parts that hold clearly by a comparison of two sides (paired or separate).
    Empty when every part holds clearly by a threshold or p-value."""
    def described(part: Part, why: str = "") -> str:
        inside = ": ".join(text for text in (part.detail, why) if text)
        return f"{part.label} ({inside})" if inside else part.label

    failed = [described(p) for p in parts if not p.holds]
    weak = [described(p, p.weak) for p in parts if p.holds and not p.clearly]
    clear = [described(p) for p in parts if p.clearly and p.detail]
    sentences = []
    for title, items in (("Does not hold", failed), ("Holds only in direction", weak),
                         ("Holds clearly", clear)):
        if items:
            sentences.append(f"{title}: " + "; ".join(items) + ".")
    return " ".join(sentences)


def f3(value: float) -> str:
    return f"{value:.3f}"
