"""The paper's claims, checked against the results files the notebooks wrote.

Every number in the claims table is read from ``reports/<profile>/results/<notebook>.json``
by the checks below; nothing is typed by hand except the paper's numbers
(``newsstudy.paper``). A claim is split into *parts* (e.g. "RL teacher > GRU"),
each of which

- **holds clearly** when ours is on the paper's side beyond the noise: for a part that
  compares two methods scored on the same users, the paired 95% interval of the per-user
  difference (``evaluation.paired_difference``) lies above zero, read from the per-user
  tables the notebooks wrote (below); when those are not on disk, the 95% intervals of the
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

Results read
------------

Every value is read through the results contract (``newsstudy.results``): the model each
notebook wrote its file with (``newsstudy.report.contract``) types the value at the path a
check reads, so an estimate is always ``Estimate(mean, low, high, n)`` and a paired
comparison ``Paired(diff, low, high, n, ...)``; nothing is parsed from text. A file, or a
key in it, that is missing or does not match its model makes the claim "not run" with the
reason. What each check reads:

- ``03_grpo``: ``offline.{rl_teacher, rl_teacher_verifiable, prompt_only}.metrics.recall_at_10``,
  ``ablation``
  (``all_five``, ``without_<reward>``) and ``ablation_paired``, ``parameters``;
- ``03b_baselines``: ``methods.<baseline>.recall_at_10``;
- ``04_scaling``: ``capacity.<size>`` (``params``, ``recall_at_10``), ``capacity_fit``,
  ``best_of_n.<N>``, ``best_of_n_gains``, ``best_of_n_diminishing``;
- ``05_distillation``: ``distillation.{on_policy, supervised, none, teacher}``,
  ``gap_share``, ``serving.{teacher, student}.users_per_second``;
- ``06_ab_simulation``: ``metrics.{dau, ctr, cold_dau}`` (``lift``, ``p_value``), ``aa``;
- the gates of :data:`WORLD_GATES`.

Per-user tables read (optional)
-------------------------------

``reports/<profile>/tables/<name>_per_user.csv`` for the names of ``PER_USER_TABLES``: one
row per (method, seed, user) with a ``method`` column, a ``user`` column and the metric
columns (``recall@10``). A user's seeds are averaged before pairing. Pairs compared on
users: each RL teacher (``03``) against prompt-only (``03``) and every baseline (``03b``);
on-policy against supervised and supervised against none (``05``). Users are the unit:
a user's scores under two methods are correlated, so the paired interval is the test of
"A beats B on these users" (and far tighter than two separate intervals). The reward
ablation, capacity and best-of-N have no per-user table and compare separate intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
from pydantic import ValidationError

from newsstudy import distillation, paper, paths
from newsstudy.baselines.paper import DISPLAY_NAMES
from newsstudy.distillation.results import RatioGate
from newsstudy.evaluation import PairedDifference, paired_difference
from newsstudy.gates import FormatGate, ImitationGate
from newsstudy.io import read_json
from newsstudy.report import contract
from newsstudy.results import Estimate, Paired, PairedGate, key
from newsstudy.scaling.results import FailingGate, ImitationLadderGate, SpanGate

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN = "reproduced", "partly", "not reproduced", "not run"
UNTESTABLE = "untestable in this world"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN, UNTESTABLE)

WORLD_GATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "inference pays": ("02_rewards", ("gates", "inference_pays")),
    "ceiling clears baselines": ("03b_baselines", ("gates", "ceiling_clears_baselines")),
    "teacher imitates": ("03_grpo", ("gates", "imitation")),
    "lists well-formed": ("03_grpo", ("gates", "format")),
    "reward valid on policy samples": ("03_grpo", ("gates", "reward_validity")),
    "GRPO improves its reward": ("03_grpo", ("gates", "grpo_improves")),
    "verifiable reward valid on policy samples": ("03_grpo", ("gates", "verifiable_validity")),
    "GRPO improves the verifiable reward": ("03_grpo", ("gates", "verifiable_improves")),
    "every size imitates": ("04_scaling", ("gates", "sizes_imitate")),
    "every size well-formed": ("04_scaling", ("gates", "sizes_well_formed")),
    "sizes span 30x": ("04_scaling", ("gates", "span_30x")),
    "student 30x smaller": ("05_distillation", ("gates", "student_30x_smaller")),
    "teacher beats no distillation": ("05_distillation", ("gates", "teacher_beats_no_distillation")),
}
"""Instrument gate (of the world or of the teacher) -> (notebook, keys of its record)."""

TEACHER_GATES = ("teacher imitates", "lists well-formed", "reward valid on policy samples",
                 "GRPO improves its reward")
"""The gates of the teacher trained on the paper's five rewards."""
VERIFIABLE_GATES = ("teacher imitates", "lists well-formed",
                    "verifiable reward valid on policy samples",
                    "GRPO improves the verifiable reward")
"""The gates of the teacher trained on the verifiable retrieval reward."""
LADDER_GATES = ("every size imitates", "every size well-formed")

ALPHA = 0.05

PER_USER_TABLES: dict[str, str] = {"03": "03_grpo", "03b": "03b_baselines",
                                   "04_capacity": "04_scaling", "05": "05_distillation"}
"""Per-user table name (``tables/<name>_per_user.csv``) -> the notebook that writes it."""

NO_PER_USER = "no per-user data"


class Missing(Exception):
    """A results file or key a claim needs is not there (the claim is "not run")."""


# --- numbers ---------------------------------------------------------------------------


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


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman rank correlation (``scipy.stats.spearmanr``: average ranks for ties); nan
    if either side is constant."""
    import warnings

    from scipy import stats

    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(xs, ys).statistic)


# --- results files ---------------------------------------------------------------------


class Results:
    """The results files of one profile, read once; ``get`` raises ``Missing`` with a reason.

    ``per_user``: per-user table name (``PER_USER_TABLES``) -> its long DataFrame, for the
    paired comparisons (``paired``); absent tables make those parts compare intervals.
    """

    def __init__(self, files: Mapping[str, Any], problems: Mapping[str, str] | None = None,
                 per_user: Mapping[str, pd.DataFrame] | None = None):
        self.files = dict(files)
        self.problems = dict(problems or {})
        self.per_user = dict(per_user or {})

    @classmethod
    def load(cls, profile: str) -> Results:
        """Every ``reports/<profile>/results/*.json`` and the per-user tables there.

        Unreadable results files become problems; a per-user table that is missing or
        unreadable is left out (its comparisons fall back to separate intervals).
        """
        folder = paths.results_path(profile, "x").parent
        files, problems = {}, {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                files[path.stem] = read_json(path)
            except (OSError, ValueError) as err:
                problems[path.stem] = f"results/{path.name} unreadable ({type(err).__name__})"
        per_user = {}
        for name in PER_USER_TABLES:
            path = paths.tables_dir(profile) / f"{name}_per_user.csv"
            try:
                frame = pd.read_csv(path)
            except (OSError, ValueError):
                continue
            if "method" not in frame.columns and "size" in frame.columns:
                frame = frame.assign(method=frame["size"])  # 04: one "method" per size
            per_user[name] = frame
        return cls(files, problems, per_user)

    def user_scores(self, table: str, method: str, metric: str = "recall@10") -> pd.Series | None:
        """``metric`` of ``method`` per user (index: user) from a per-user table, or None."""
        frame = self.per_user.get(table)
        if frame is None or not {"method", "user", metric} <= set(frame.columns):
            return None
        rows = frame[frame["method"] == method]
        return rows.set_index("user")[metric] if len(rows) else None

    def paired(self, a: tuple[str, str], b: tuple[str, str],
               metric: str = "recall@10") -> PairedDifference | str:
        """``a`` minus ``b`` on their common users, each side a (table, method); seeds averaged.

        When it cannot be paired, the reason as text (``NO_PER_USER``, or too few users).
        """
        scores_a, scores_b = self.user_scores(*a, metric), self.user_scores(*b, metric)
        if scores_a is None or scores_b is None:
            return NO_PER_USER
        try:
            return paired_difference(scores_a, scores_b)
        except ValueError:
            return "fewer than 2 users in both per-user tables"

    def get(self, notebook: str, *keys: str) -> Any:
        """``results/<notebook>.json[keys[0]][keys[1]]...``, typed by the notebook's results
        model (``newsstudy.report.contract``); ``Missing`` if absent or not as the model
        declares it."""
        if notebook in self.problems:
            raise Missing(self.problems[notebook])
        if notebook not in self.files:
            raise Missing(f"results/{notebook}.json not found (notebook {notebook} not run)")
        value = self.files[notebook]
        for depth, name in enumerate(keys):
            if not isinstance(value, Mapping) or name not in value:
                path = "".join(f"[{k!r}]" for k in keys[: depth + 1])
                raise Missing(f"results/{notebook}.json has no {path}")
            value = value[name]
        if notebook not in contract.MODELS:
            return value
        try:
            return contract.typed(notebook, keys, value)
        except (KeyError, ValidationError) as err:
            path = "".join(f"[{k!r}]" for k in keys)
            first = (err.errors()[0] if isinstance(err, ValidationError) else {"msg": str(err)})
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise Missing(f"results/{notebook}.json {path} does not match its results model"
                          f" ({where + ': ' if where else ''}{first['msg']})") from None

    def optional(self, notebook: str, *keys: str) -> Any:
        """Like :meth:`get`, or None when the value is missing or malformed."""
        try:
            return self.get(notebook, *keys)
        except Missing:
            return None


# --- claims ----------------------------------------------------------------------------


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


def offline_label(key: str) -> str:
    return DISPLAY_NAMES.get(key, key).split(" (")[0]


# --- the checks: Results -> Outcome ---------------------------------------------------


def llm_row(results: Results, method: str) -> Estimate:
    """03_grpo's R@10 of one LLM policy (its display name), with its interval."""
    row = results.get("03_grpo", "offline").get(key(method))
    if row is None:
        raise Missing(f"results/03_grpo.json has no ['offline'][{key(method)!r}]")
    return known(row.metrics.recall_at_10, f"03_grpo offline[{key(method)}]")


def check_rl_teacher_best(results: Results, name: str = "RL teacher") -> Outcome:
    """``name`` (a teacher's row of 03) against prompt-only and every baseline of 03b."""
    teacher, prompt = llm_row(results, name), llm_row(results, "prompt-only")
    methods = results.get("03b_baselines", "methods")
    baselines = {name: known(metrics.recall_at_10, f"03b_baselines methods[{name}]")
                 for name, metrics in methods.items()}
    if not baselines:
        raise Missing("results/03b_baselines.json has no baseline under 'methods'")
    parts = [beats(f"{name} > prompt-only", teacher, prompt,
                   results.paired(("03", name), ("03", "prompt-only")))]
    parts += [beats(f"{name} > {offline_label(base)}", teacher, value,
                    results.paired(("03", name), ("03b", base)))
              for base, value in baselines.items()]
    best = max(baselines, key=lambda base: baselines[base].mean)
    effect = Effect(
        f"{name} - best baseline", paper.OFFLINE["rl_teacher_32b"]["recall@10"]
        - paper.OFFLINE[PAPER_BEST_BASELINE]["recall@10"],
        paired_estimate(results.paired(("03", name), ("03b", best)), teacher,
                        baselines[best]))
    ours = (f"{name} {teacher.text()}; prompt-only {prompt.text()}; "
            f"best baseline {offline_label(best)} {baselines[best].text()}")
    size = results.optional("03_grpo", "parameters")
    context = (f"Our teacher is a {size / 1e6:.2f}M-parameter model trained from scratch on the "
               f"simulated world; the paper's is Qwen2.5-32B on production logs."
               if size else "")
    return Outcome(ours, parts, context, effect)


DISTILLATION_METHODS = ("on-policy", "supervised", "none")
"""The students the distillation claim orders (05's method names)."""


def check_distillation(results: Results) -> Outcome:
    found = results.get("05_distillation", "distillation")
    value = {}
    for method in DISTILLATION_METHODS:
        if key(method) not in found:
            raise Missing(f"results/05_distillation.json has no ['distillation'][{key(method)!r}]")
        value[method] = known(found[key(method)].recall_at_10,
                              f"05_distillation distillation[{key(method)}]")
    parts = [beats(f"{a} > {b}", value[a], value[b], results.paired(("05", a), ("05", b)))
             for a, b in (("on-policy", "supervised"), ("supervised", "none"))]
    ours = "; ".join(f"{m} {v.text()}" for m, v in value.items())
    if "teacher" in found and found["teacher"].recall_at_10.mean is not None:
        ours += f"; teacher {found['teacher'].recall_at_10.text()}"
    shares = results.optional("05_distillation", "gap_share") or {}
    label = {key(method): method for method in distillation.METHODS}
    closed = [f"{label.get(name, name)} {row.share_of_gap_closed.mean:.2f}"
              for name, row in sorted(shares.items())
              if row.share_of_gap_closed.mean is not None]
    if closed:
        ours += "; share of the teacher's gap closed: " + ", ".join(closed)
    paper_rows = paper.DISTILLATION
    effect = Effect("on-policy - supervised", paper_rows["on-policy"][0] - paper_rows["supervised"][0],
                    paired_estimate(results.paired(("05", "on-policy"), ("05", "supervised")),
                                    value["on-policy"], value["supervised"]))
    return Outcome(ours, parts, effect=effect)


def check_reward_ablation(results: Results) -> Outcome:
    rows = results.get("03_grpo", "ablation")
    if "all_five" not in rows:
        raise Missing("results/03_grpo.json has no ['ablation']['all_five']")
    full = known(rows["all_five"].recall_at_10, "03_grpo ablation[all_five]")
    dropped = {name.removeprefix("without_"): known(row.recall_at_10, f"ablation[{name}]")
               for name, row in rows.items() if name.startswith("without_")}
    if not dropped:
        raise Missing("results/03_grpo.json has no 'without_<reward>' ablation")
    recorded = results.optional("03_grpo", "ablation_paired") or []
    paired = {str(row.candidate).removeprefix("without ").strip(): as_paired(row)
              for row in recorded if row.reference == "all five" and row.diff is not None}

    def full_minus(name: str) -> PairedDifference | str:
        """All five minus without R_name, on the same users (the record is the reverse)."""
        if name not in paired:
            return NO_PER_USER
        d = paired[name]
        return replace(d, mean_a=d.mean_b, mean_b=d.mean_a, diff=-d.diff, low=-d.high,
                       high=-d.low)

    parts = [beats(f"all five > without R_{name}", full, value, full_minus(name))
             for name, value in dropped.items()]
    ranked = sorted(dropped, key=lambda name: dropped[name].mean)
    if "cov" in dropped:
        lowest = ranked[0]
        holds = lowest == "cov"
        clearly = holds and (len(ranked) < 2 or greater("", dropped[ranked[1]], dropped["cov"]).clearly)
        parts.append(Part(f"dropping R_cov hurts most (ours: R_{lowest})", holds, clearly,
                          detail=f"separate intervals ({NO_PER_USER})"))
    ours = (f"all five {full.text()}; "
            + "; ".join(f"without R_{name} {dropped[name].text()}" for name in dropped))
    effect = None
    if "cov" in dropped:
        effect = Effect("all five - without R_cov", paper.REWARD_ABLATION["all five"][0]
                        - paper.REWARD_ABLATION["without cov"][0],
                        paired_estimate(full_minus("cov"), full, dropped["cov"]))
    return Outcome(ours, parts, effect=effect)


def check_capacity(results: Results) -> Outcome:
    rows = results.get("04_scaling", "capacity")
    if len(rows) < 2:
        raise Missing("results/04_scaling.json ['capacity'] needs at least two model sizes")
    sizes = sorted(((row.params, name, known(row.recall_at_10, f"04_scaling capacity[{name}]"))
                    for name, row in rows.items()), key=lambda t: t[0])
    rho = spearman([s for s, _, _ in sizes], [e.mean for _, _, e in sizes])
    (small, small_name, first), (large, large_name, last) = sizes[0], sizes[-1]
    paired = results.paired(("04_capacity", large_name), ("04_capacity", small_name))
    parts = [beats(f"largest ({large_name}) > smallest ({small_name})", last, first, paired),
             Part(f"R@10 rises with size (Spearman rho = {rho:.2f})", rho > 0, rho >= 0.8,
                  "rho below 0.8")]
    fit = results.optional("04_scaling", "capacity_fit")
    if fit is not None and fit.slope_per_decade.has_interval():
        slope = fit.slope_per_decade
        parts.append(Part("fitted R@10 slope per tenfold parameters > 0", slope.mean > 0,
                          slope.low > 0, "bootstrap interval includes 0",
                          f"slope {slope.mean:+.4f} [{slope.low:+.4f}, {slope.high:+.4f}]"))
    ours = (f"{first.text()} ({small_name}, {small / 1e6:.2f}M) to {last.text()} "
            f"({large_name}, {large / 1e6:.2f}M); {len(sizes)} sizes spanning "
            f"{large / small:.0f}x; rho = {rho:.2f}")
    effect = Effect(f"largest - smallest size ({large / small:.0f}x ours, 64x paper)",
                    paper.CAPACITY["32B"][0] - paper.CAPACITY["0.5B"][0],
                    paired_estimate(paired, last, first))
    return Outcome(ours, parts, effect=effect)


def check_best_of_n(results: Results) -> Outcome:
    rows = results.get("04_scaling", "best_of_n")
    if not rows:
        raise Missing("results/04_scaling.json ['best_of_n'] is empty")
    by_n = {n: Estimate.of(row.recall_at_10_reward_picked) for n, row in rows.items()}
    ns = sorted(by_n)
    if ns[0] != 1 or len(ns) < 3:
        raise Missing("results/04_scaling.json ['best_of_n'] needs N = 1 and at least two more N")
    gains = results.optional("04_scaling", "best_of_n_gains") or {}
    diminishing = results.optional("04_scaling", "best_of_n_diminishing")
    top = ns[-1]
    if top in gains and gains[top].mean is not None:
        gain = gains[top]
        parts = [Part(f"reward pick of N = {top} > a random pick", gain.mean > 0,
                      gain.has_interval() and gain.low > 0, "paired interval includes 0",
                      f"paired diff {gain.mean:+.3f} [{gain.low:+.3f}, {gain.high:+.3f}], "
                      f"n = {gain.n}")]
    else:
        gain = Estimate.of(by_n[top].mean - by_n[1].mean)
        parts = [beats(f"N = {top} > N = 1", by_n[top], by_n[1], NO_PER_USER)]
    if diminishing is not None and diminishing.difference.has_interval():
        d, diff = diminishing, diminishing.difference
        parts.append(Part(
            f"diminishing returns: gain per doubling up to N = {d.split} "
            f"({d.early_gain_per_doubling:+.4f}) > after it ({d.late_gain_per_doubling:+.4f})",
            diff.mean > 0 and d.early_gain_per_doubling > 0, d.holds,
            "paired interval includes 0",
            f"paired diff {diff.mean:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}], n = {diff.n}"))
    else:
        middle = 4 if 4 in by_n and top > 4 else ns[len(ns) // 2]
        early, late = by_n[middle].mean - by_n[1].mean, by_n[top].mean - by_n[middle].mean
        parts.append(threshold(f"diminishing returns: gain N 1->{middle} ({early:+.3f}) > "
                               f"gain N {middle}->{top} ({late:+.3f})", early > 0 and early > late))
    ours = ", ".join(f"N={n} {by_n[n].text()}" for n in ns)
    ours += f"; oracle pick at N={top} {rows[top].recall_at_10_oracle:.3f}"
    verified = (results.optional("04_scaling", "best_of_n_verifier_gains") or {}).get(top)
    check = results.optional("04_scaling", "verifier")
    if verified is not None and verified.mean is not None and check is not None:
        ours += (f"; learned verifier pick of N = {top} - random {verified.mean:+.3f} "
                 f"[{verified.low:+.3f}, {verified.high:+.3f}] (its check on validation "
                 f"users {'passes' if check.passes else 'fails'}: within-user Spearman "
                 f"{check.spearman.mean:+.3f})")
    effect = Effect(f"reward pick of N = {top} - a random pick (paper: - N = 1)", paper.BEST_OF_N[32][0]
                    - paper.BEST_OF_N[1][0], Estimate.of(gain.mean, gain.low, gain.high, gain.n))
    return Outcome(ours, parts, effect=effect)


def check_ab(results: Results) -> Outcome:
    metrics = results.get("06_ab_simulation", "metrics")
    lifts, parts, texts = {}, [], []
    for name in ("dau", "ctr", "cold_dau"):
        row = metrics.get(name)
        if row is None:
            raise Missing(f"results/06_ab_simulation.json has no ['metrics'][{name!r}]")
        where = f"06_ab_simulation metrics[{name}]"
        lift = known(row.lift, where)
        p = number(row.p_value, f"{where}.p_value")
        lifts[name] = lift
        label = paper.AB_LABELS[name]
        parts.append(Part(f"{label} lift > 0, p < {ALPHA}", lift.mean > 0,
                          lift.mean > 0 and p < ALPHA, f"p = {p:.3f}"))
        texts.append(f"{label} {lift.percent()} (p = {p:.3f})")
    parts.append(greater("cold-user DAU lift > DAU lift", lifts["cold_dau"], lifts["dau"]))
    ours = "; ".join(texts)
    effect = Effect("DAU lift", paper.AB_TEST["dau"]["lift"], lifts["dau"], "%")
    aa = results.optional("06_ab_simulation", "aa")
    if aa is not None and "dau" in aa.fpr:
        ours += (f"; A/A false-positive rate (DAU) {aa.fpr['dau']:.3f} at alpha = "
                 f"{aa.alpha} over {aa.replicates} splits")
    return Outcome(ours, parts, effect=effect)


def check_efficiency(results: Results) -> Outcome:
    found = results.get("05_distillation", "serving")
    speed = {"teacher": found.teacher.users_per_second,
             "student": found.student.users_per_second}
    if speed["teacher"] <= 0:
        raise Missing("results/05_distillation.json ['serving']['teacher'] is not positive")
    ratio = speed["student"] / speed["teacher"]
    parts = [threshold("student faster than teacher", ratio > 1),
             threshold(f"at least {paper.SPEEDUP_CLAIMED:.0f}x (ours {ratio:.1f}x)",
                       ratio >= paper.SPEEDUP_CLAIMED)]
    ours = (f"teacher {speed['teacher']:.1f} users/s, student {speed['student']:.1f} users/s "
            f"({ratio:.1f}x)")
    effect = Effect("student / teacher users per second",
                    paper.SERVING["student"] / paper.SERVING["teacher"], Estimate.of(ratio), "x")
    return Outcome(ours, parts, effect=effect)


# --- the table -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimSpec:
    """A claim of the paper: what it says, its numbers, where ours come from, the check,
    and the world gates (:data:`WORLD_GATES`) without which the world cannot test it."""

    statement: str
    notebooks: tuple[str, ...]
    paper: str
    check: Callable[[Results], Outcome]
    needs: tuple[str, ...] = ("inference pays",)


def gate_numbers(gate: Any) -> str:
    """The numbers behind a failed gate, in words."""
    if isinstance(gate, FailingGate):
        numbers = (", ".join(f"{k} {v:.1%}" for k, v in gate.shares.items() if v is not None)
                   if isinstance(gate, ImitationLadderGate) else "")
        return (f"fails for {', '.join(gate.failing)}"
                + (f"; share of demonstrations' R@10 {numbers}, bar 90%" if numbers else ""))
    if isinstance(gate, SpanGate):
        return f"parameter span {gate.span:.1f}x, bar 30x"
    if (isinstance(gate, PairedGate) and gate.candidate is not None
            and gate.low is not None and gate.relative is not None):
        return (f"{gate.candidate} vs {gate.reference}: {gate.relative:+.1%} Recall@10, "
                f"paired 95% interval low {gate.low:+.4f}, gate {gate.min_lift or 0:.0%}")
    if isinstance(gate, ImitationGate):
        if gate.ratio is None or math.isnan(gate.ratio):
            return f"no ratio (the demonstrations' R@10 is 0), bar {gate.bar:.0%}"
        return f"ratio {gate.ratio:.1%}, bar {gate.bar:.0%}"
    if isinstance(gate, FormatGate):
        shares = ", ".join(f"{k} {v:.1%}" for k, v in gate.shares.items() if v is not None)
        return f"well-formed {shares}, bar {gate.bar:.0%}"
    if isinstance(gate, PairedGate) and gate.diff is not None and gate.estimate().has_interval():
        return f"{gate.what or 'difference'} {gate.diff:+.4f} [{gate.low:+.4f}, {gate.high:+.4f}]"
    if isinstance(gate, RatioGate):
        return f"parameter ratio {gate.ratio:.1f}x, bar 30x"
    return "failed"


def failed_gates(results: Results, needs: tuple[str, ...]) -> list[str]:
    """The needed world gates whose recorded check failed, each with its numbers.

    A gate not recorded (its notebook not run, or an older results file) does not block
    the verdict; the claim's note says nothing of it.
    """
    failed = []
    for name in needs:
        notebook, keys = WORLD_GATES[name]
        gate = results.optional(notebook, *keys)
        if gate is not None and gate.passes is False:
            failed.append(f"'{name}' ({notebook}: {gate_numbers(gate)})")
    return failed


def paper_offline(method: str) -> str:
    return f3(paper.OFFLINE[method]["recall@10"])


PAPER_BEST_BASELINE = max(paper.OFFLINE_BASELINES,
                          key=lambda m: paper.OFFLINE[m]["recall@10"])

CLAIMS: dict[str, ClaimSpec] = {
    "rl_teacher_best": ClaimSpec(
        "The RL teacher beats the prompt-only LLM and every baseline (R@10).",
        ("03_grpo", "03b_baselines"),
        f"RL teacher {paper_offline('rl_teacher_32b')}; prompt-only "
        f"{paper_offline('prompt_only_32b')}; best baseline "
        f"{offline_label(PAPER_BEST_BASELINE)} {paper_offline(PAPER_BEST_BASELINE)}",
        check_rl_teacher_best,
        needs=("inference pays", "ceiling clears baselines", *TEACHER_GATES),
    ),
    "rl_teacher_verifiable": ClaimSpec(
        "With the verifiable retrieval reward in place of the paper's five (our addition, "
        "not the paper's method), the RL teacher beats the prompt-only LLM and every "
        "baseline (R@10).",
        ("03_grpo", "03b_baselines"),
        f"RL teacher {paper_offline('rl_teacher_32b')} (the paper's five rewards); "
        f"prompt-only {paper_offline('prompt_only_32b')}",
        lambda results: check_rl_teacher_best(results, "RL teacher (verifiable)"),
        needs=("inference pays", "ceiling clears baselines", *VERIFIABLE_GATES),
    ),
    "distillation_order": ClaimSpec(
        "On-policy distillation beats supervised distillation, which beats none (student R@10).",
        ("05_distillation",),
        "; ".join(f"{m} {f3(r)}" for m, (r, _) in paper.DISTILLATION.items()),
        check_distillation,
        needs=("inference pays", *LADDER_GATES, "student 30x smaller",
               "teacher beats no distillation"),
    ),
    "reward_ablation": ClaimSpec(
        "Dropping any one reward lowers R@10; dropping R_cov lowers it most.",
        ("03_grpo",),
        "; ".join(f"{m.replace('without ', 'without R_')} {f3(r)}"
                  for m, (r, _) in paper.REWARD_ABLATION.items()),
        check_reward_ablation,
        needs=("inference pays", *TEACHER_GATES),
    ),
    "capacity_scaling": ClaimSpec(
        "Retrieval quality grows with model size (R@10).",
        ("04_scaling",),
        f"{f3(paper.CAPACITY['0.5B'][0])} (0.5B) to {f3(paper.CAPACITY['32B'][0])} (32B), "
        f"monotone over {len(paper.CAPACITY)} sizes spanning 64x",
        check_capacity,
        needs=("inference pays", *LADDER_GATES, "sizes span 30x"),
    ),
    "best_of_n": ClaimSpec(
        "Best-of-N by the composite reward raises R@10, with diminishing returns.",
        ("04_scaling",),
        ", ".join(f"N={n} {f3(r)}" for n, (r, _) in paper.BEST_OF_N.items()),
        check_best_of_n,
        needs=("inference pays", *TEACHER_GATES),
    ),
    "ab_test": ClaimSpec(
        "In the A/B test DAU, CTR and cold-user DAU rise significantly, cold users most.",
        ("06_ab_simulation",),
        "; ".join(f"{paper.AB_LABELS[k]} {v['lift']:+.2%} (p = {v['p_value']})"
                  for k, v in paper.AB_TEST.items()),
        check_ab,
    ),
    "student_speed": ClaimSpec(
        f"The student serves at least {paper.SPEEDUP_CLAIMED:.0f}x more users/s than the "
        "teacher.",
        ("05_distillation",),
        f"teacher {paper.SERVING['teacher']:.0f} users/s, student "
        f"{paper.SERVING['student']:.0f} users/s "
        f"({paper.SERVING['student'] / paper.SERVING['teacher']:.1f}x)",
        check_efficiency,
        needs=("student 30x smaller",),
    ),
}
"""Claim key -> its spec, in the order of the report's table."""


def evaluate(key: str, results: Results) -> Claim:
    """Check one claim against the results; ``not run`` (with the reason) if inputs are missing."""
    spec = CLAIMS[key]
    try:
        outcome = spec.check(results)
    except Missing as missing:
        return Claim(key, spec.statement, spec.notebooks, spec.paper, "-", NOT_RUN, str(missing))
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        reason = f"results in an unexpected format ({type(err).__name__}: {err})"
        return Claim(key, spec.statement, spec.notebooks, spec.paper, "-", NOT_RUN, reason)
    found = verdict(outcome.parts)
    note = " ".join(text for text in (explain(outcome.parts), outcome.context) if text)
    blocked = failed_gates(results, spec.needs)
    if blocked:
        note = (f"Instrument gate failed: {'; '.join(blocked)}. The instrument cannot test "
                f"the claim here, so its verdict is not read past the gate (it would have "
                f"been '{found}'). {note}")
        found = UNTESTABLE
    return Claim(key, spec.statement, spec.notebooks, spec.paper, outcome.ours, found, note,
                 outcome.parts, outcome.effect)


def evaluate_all(results: Results) -> list[Claim]:
    """Every claim of ``CLAIMS``, in order."""
    return [evaluate(key, results) for key in CLAIMS]
