"""The results contract: what a notebook writes to ``reports/<profile>/results/<notebook>.json``.

Every notebook builds one typed results model (a :class:`Record`, defined in its stage's
``results.py``) and writes it with :func:`newsstudy.saving.write_results`; the report, the
claims and the tests read it back through the same model (``newsstudy.report.contract``).
Two rules hold for every file, checked when it is written:

- **an interval is numbers**: a mean with its interval is an :class:`Estimate`
  (``mean, low, high, n``); a paired comparison on the same users is a :class:`Paired`
  (``diff, low, high, n, p_value``). No interval is ever text;
- **keys are identifiers** (``recall_at_10``, ``rl_teacher``, ``16``), never display labels:
  the labels live in the tables and figures, and a model maps a display column to its
  field with ``Field(alias=...)`` when it is built from a display table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

KEY = re.compile(r"^[a-z][a-z0-9_]*$|^[0-9]+$")
"""A results key: a lower-case identifier, or a whole number (best-of-N's N)."""


def key(label: Any) -> str:
    """The results key of a display label: lower case, runs of anything but letters and
    digits become one ``_`` (``"RL teacher"`` -> ``rl_teacher``, ``"on-policy + GRPO"`` ->
    ``on_policy_grpo``, ``"R@10"`` -> ``r_10``)."""
    text = re.sub(r"[^a-z0-9]+", "_", str(label).lower()).strip("_")
    if not text or not KEY.match(text):
        raise ValueError(f"{label!r} has no results key (it needs a letter first)")
    return text


def keyed(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """``mapping`` with every key turned into its results key (:func:`key`); two labels
    with the same key are an error."""
    out: dict[str, Any] = {}
    for label, value in mapping.items():
        name = key(label)
        if name in out:
            raise ValueError(f"labels collide on the results key {name!r}: {label!r}")
        out[name] = value
    return out


class Record(BaseModel):
    """A piece of a results file: no unknown fields, built by field name or by alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _number(value: Any) -> float | None:
    """A float, or None for a missing, NaN or infinite value."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def finite(value: Any) -> float | None:
    """A plain float for a results field: None for a missing, NaN or infinite value."""
    return _number(value)


class Estimate(Record):
    """A mean with its interval (``level``, 95% unless said) over ``n`` units."""

    mean: float | None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    level: float = 0.95

    @classmethod
    def of(cls, mean: Any, low: Any = None, high: Any = None, n: Any = None,
           level: float = 0.95) -> Estimate:
        """An estimate from plain numbers (numpy scalars, NaN -> None)."""
        count = _number(n)
        return cls(mean=_number(mean), low=_number(low), high=_number(high),
                   n=None if count is None else int(count), level=level)

    @classmethod
    def from_columns(cls, row: Mapping[str, Any], column: str, n: Any = None) -> Estimate:
        """The estimate of ``column`` in a display row that carries it as three columns:
        ``column``, ``"<column> low"`` and ``"<column> high"`` (what
        ``evaluation.summarise`` gives)."""
        return cls.of(row[column], row.get(f"{column} low"), row.get(f"{column} high"), n)

    def has_interval(self) -> bool:
        """Both ends of the interval are known."""
        return self.low is not None and self.high is not None

    def text(self, digits: int = 3) -> str:
        """``0.123 [0.101, 0.145]`` (or the mean alone)."""
        if self.mean is None:
            return "n/a"
        if not self.has_interval():
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def percent(self) -> str:
        """``+0.95% [+0.10%, +1.80%]`` for a relative lift."""
        if self.mean is None:
            return "n/a"
        if not self.has_interval():
            return f"{self.mean:+.2%}"
        return f"{self.mean:+.2%} [{self.low:+.2%}, {self.high:+.2%}]"


class Paired(Record):
    """Method A against method B on the same users (``evaluation.PairedDifference``):
    ``diff = mean(a - b)`` with its interval, the means of both sides, the paired test's
    p-value, and what was compared."""

    mean_a: float | None
    mean_b: float | None
    diff: float | None
    low: float | None
    high: float | None
    n: int
    p_value: float | None
    relative: float | None
    level: float = 0.95
    ci_method: str = "t"
    candidate: str | None = None
    reference: str | None = None
    metric: str | None = None
    what: str | None = None

    @classmethod
    def of(cls, paired: Any, **context: Any) -> Paired:
        """From an ``evaluation.PairedDifference`` (or its ``to_dict``), with what was
        compared (``candidate=``, ``reference=``, ``metric=``, ``what=``)."""
        values = paired if isinstance(paired, Mapping) else paired.to_dict()
        return cls(**{**values, **context})

    def estimate(self) -> Estimate:
        """The difference as an :class:`Estimate`."""
        return Estimate(mean=self.diff, low=self.low, high=self.high, n=self.n, level=self.level)

    def above_zero(self) -> bool:
        """The interval lies wholly above zero ("A beats B")."""
        return self.low is not None and self.low > 0


class MetricValues(Record):
    """The mean of each offline metric (``metrics.DEFAULT_METRICS``); built from a row
    keyed by the metrics' names (``"recall@10"``)."""

    recall_at_5: float | None = Field(None, alias="recall@5")
    recall_at_10: float | None = Field(None, alias="recall@10")
    ndcg_at_5: float | None = Field(None, alias="ndcg@5")
    ndcg_at_10: float | None = Field(None, alias="ndcg@10")
    mrr: float | None = None


class MetricEstimates(Record):
    """Each offline metric's mean with its interval."""

    recall_at_5: Estimate | None = Field(None, alias="recall@5")
    recall_at_10: Estimate | None = Field(None, alias="recall@10")
    ndcg_at_5: Estimate | None = Field(None, alias="ndcg@5")
    ndcg_at_10: Estimate | None = Field(None, alias="ndcg@10")
    mrr: Estimate | None = None


class PairedGate(Paired):
    """A gate decided by a paired comparison: passes, and the minimum lift it asked for."""

    passes: bool
    min_lift: float | None = None


def bad_keys(obj: Any, where: str = "") -> list[str]:
    """Paths of the keys in a dumped results object that are not identifiers (:data:`KEY`),
    and of the string values that look like an interval (``"[0.1, 0.2]"``)."""
    found: list[str] = []
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            path = f"{where}/{key}"
            if not isinstance(key, str) or not KEY.match(key):
                found.append(path)
            found.extend(bad_keys(value, path))
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            found.extend(bad_keys(value, f"{where}[{index}]"))
    elif isinstance(obj, str) and re.match(r"^\s*[\[(]\s*[-+0-9.e]+\s*,", obj):
        found.append(f"{where} = {obj!r} (an interval as text)")
    return found


def dump(record: Record) -> dict[str, Any]:
    """The record as JSON-ready values, after checking the contract's two rules and that
    the file will read back as the same model.

    Raises ``ValueError`` naming every key that is a display label and every interval
    written as text, or the fields that would not read back (a NaN or infinity in a field
    that does not allow a missing value: JSON stores it as null).
    """
    from pydantic import ValidationError

    from newsstudy.io import finite

    values = finite(record.model_dump(mode="json", by_alias=False))
    problems = bad_keys(values)
    if problems:
        raise ValueError(f"{type(record).__name__} breaks the results contract at "
                         + ", ".join(problems[:10]))
    try:
        type(record).model_validate(values)
    except ValidationError as err:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in err.errors()[:10])
        raise ValueError(f"{type(record).__name__} would not read back from its file "
                         f"(NaN or infinity where a number is required): {fields}") from None
    return values
