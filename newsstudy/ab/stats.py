"""Statistics of the online test: lifts with intervals and p-values, bootstrap, A/A, power.

The randomisation unit is the user, so every metric is analysed from *per-user* totals
(a user's visits or clicks over the test are correlated; users are independent):

* **Mean metrics** (DAU rate, cold-user DAU rate): one value per user (active days /
  test days). The p-value is Welch's unequal-variance t-test on the difference of arm
  means (the same number as ``scipy.stats.ttest_ind(equal_var=False)``).
* **Ratio metrics** (CTR = clicks / impressions, pooled over the arm): each arm's ratio of
  sums, with the variance of a ratio of means from the delta method (Deng, Knoblich and
  Lu, KDD 2018, "Applying the Delta Method in Metric Analytics"); the p-value is the
  z-test on the difference of the two ratios.

The **lift** is relative: ``treatment / control - 1``. Its 95% interval comes from the
delta method for a ratio of two independent estimates, ``var(lift) ~ var(t) / c^2 +
t^2 var(c) / c^4``, with a normal quantile (arms have thousands of users).

Every analytic answer is checked against a **Poisson bootstrap** (Chamandy et al., 2012:
each user's weight in a resample is Poisson(1), which at this scale is the ordinary
bootstrap without materialising resampled index arrays): percentile interval of the
lift and a two-sided bootstrap p-value (twice the smaller tail share of resampled lifts
on either side of zero).

**A/A tests** re-randomise the users of a run in which nobody was treated: the outcomes
cannot depend on the labels, so the share of A/A p-values below alpha estimates the
test's real false-positive rate. **Power and minimum detectable effect** use the normal
approximation with the per-user standard deviation measured in the control arm, checked
by subsampling the experiment's own arms.

Every function works on sufficient statistics, so the same code serves one test and
hundreds of re-randomisations at once (matrix products, no loop over replicates).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

MEAN, RATIO = "mean", "ratio"


@dataclass(frozen=True)
class Metric:
    """A per-user metric: ``kind`` is ``"mean"`` (values ``x``) or ``"ratio"`` (sum x / sum y).

    ``x`` and ``y`` are float arrays over the users the metric covers (``y`` only for
    ratio metrics, e.g. x = clicks, y = impressions per user).
    """

    name: str
    kind: str
    x: np.ndarray
    y: np.ndarray | None = None

    def __post_init__(self):
        if self.kind not in (MEAN, RATIO):
            raise ValueError(f"metric kind must be 'mean' or 'ratio', got {self.kind!r}")
        if (self.kind == RATIO) != (self.y is not None):
            raise ValueError("a ratio metric needs y (the denominator); a mean metric must not")
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"x has {len(self.x)} users but y has {len(self.y)}")

    def columns(self) -> np.ndarray:
        """The per-user sufficient statistics ``[x, x^2]`` or ``[x, y, x^2, y^2, x*y]``."""
        x = np.asarray(self.x, dtype=np.float64)
        if self.kind == MEAN:
            return np.stack([x, x * x], axis=1)
        y = np.asarray(self.y, dtype=np.float64)
        return np.stack([x, y, x * x, y * y, x * y], axis=1)


@dataclass(frozen=True)
class LiftResult:
    """One metric's comparison of two arms (see the module doc for the methods)."""

    metric: str
    kind: str
    control: float
    treatment: float
    lift: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    n_control: int
    n_treatment: int
    se_lift: float
    boot_ci_low: float = math.nan
    boot_ci_high: float = math.nan
    boot_p_value: float = math.nan
    boot_se_lift: float = math.nan

    def as_dict(self) -> dict:
        """Plain dict (for JSON and tables)."""
        return asdict(self)


# --------------------------------------------------------------------------- estimates

def _arm_estimate(kind: str, sums: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(estimate, variance of the estimate) of one arm from column sums (``[..., k]``)."""
    n = np.asarray(n, dtype=np.float64)
    if kind == MEAN:
        mean = sums[..., 0] / n
        var = (sums[..., 1] - n * mean**2) / (n - 1)  # sample variance, ddof=1
        return mean, np.maximum(var, 0.0) / n
    sx, sy, sxx, syy, sxy = (sums[..., i] for i in range(5))
    mx, my = sx / n, sy / n
    ratio = sx / sy
    vx = (sxx - n * mx**2) / (n - 1)
    vy = (syy - n * my**2) / (n - 1)
    cxy = (sxy - n * mx * my) / (n - 1)
    var = (vx - 2 * ratio * cxy + ratio**2 * vy) / (my**2 * n)
    return ratio, np.maximum(var, 0.0)


def _welch_p(kind: str, sums_c, n_c, sums_t, n_t) -> np.ndarray:
    """Two-sided p-value of the difference: Welch's t (mean) or the delta-method z (ratio)."""
    est_c, var_c = _arm_estimate(kind, sums_c, n_c)
    est_t, var_t = _arm_estimate(kind, sums_t, n_t)
    se = np.sqrt(var_c + var_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (est_t - est_c) / se
        if kind == RATIO:
            return 2 * stats.norm.sf(np.abs(z))
        df = (var_c + var_t) ** 2 / (var_c**2 / (np.asarray(n_c) - 1)
                                     + var_t**2 / (np.asarray(n_t) - 1))
        return 2 * stats.t.sf(np.abs(z), df)


def welch_test(x_control, x_treatment) -> tuple[float, float, float]:
    """Welch's unequal-variance t-test: ``(difference of means, t, two-sided p)``.

    >>> d, t, p = welch_test([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.5])
    >>> round(d, 3), round(p, 4)
    (1.125, 0.2986)
    """
    c = Metric("x", MEAN, np.asarray(x_control, float)).columns()
    t = Metric("x", MEAN, np.asarray(x_treatment, float)).columns()
    est_c, var_c = _arm_estimate(MEAN, c.sum(0), len(c))
    est_t, var_t = _arm_estimate(MEAN, t.sum(0), len(t))
    p = _welch_p(MEAN, c.sum(0), len(c), t.sum(0), len(t))
    return float(est_t - est_c), float((est_t - est_c) / math.sqrt(var_c + var_t)), float(p)


def ratio_with_se(x, y) -> tuple[float, float]:
    """``sum(x) / sum(y)`` and its delta-method standard error (users as units)."""
    cols = Metric("r", RATIO, np.asarray(x, float), np.asarray(y, float)).columns()
    ratio, var = _arm_estimate(RATIO, cols.sum(0), len(cols))
    return float(ratio), float(math.sqrt(var))


def _lift_and_se(est_c, var_c, est_t, var_t):
    lift = est_t / est_c - 1.0
    var = var_t / est_c**2 + est_t**2 * var_c / est_c**4
    return lift, np.sqrt(var)


def compare(metric_control: Metric, metric_treatment: Metric, alpha: float = 0.05,
            n_bootstrap: int = 0, seed: int = 0) -> LiftResult:
    """Both arms' values, the relative lift with its (1 - alpha) interval, and the p-value.

    With ``n_bootstrap > 0`` the Poisson-bootstrap interval, p-value and standard error of
    the lift are filled in as a check of the analytic ones.
    """
    kind = metric_control.kind
    if metric_treatment.kind != kind:
        raise ValueError("both arms must carry the same kind of metric")
    cols_c, cols_t = metric_control.columns(), metric_treatment.columns()
    n_c, n_t = len(cols_c), len(cols_t)
    if min(n_c, n_t) < 2:
        raise ValueError(f"each arm needs at least 2 users (got {n_c} and {n_t})")
    est_c, var_c = _arm_estimate(kind, cols_c.sum(0), n_c)
    est_t, var_t = _arm_estimate(kind, cols_t.sum(0), n_t)
    lift, se = _lift_and_se(est_c, var_c, est_t, var_t)
    z = stats.norm.ppf(1 - alpha / 2)
    p = _welch_p(kind, cols_c.sum(0), n_c, cols_t.sum(0), n_t)
    result = LiftResult(
        metric=metric_control.name, kind=kind, control=float(est_c), treatment=float(est_t),
        lift=float(lift), ci_low=float(lift - z * se), ci_high=float(lift + z * se),
        p_value=float(p), test="welch_t" if kind == MEAN else "delta_z",
        n_control=n_c, n_treatment=n_t, se_lift=float(se))
    if n_bootstrap > 0:
        boot = bootstrap_lifts(metric_control, metric_treatment, n_bootstrap, seed)
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        result = LiftResult(**{**result.as_dict(), "boot_ci_low": float(low),
                               "boot_ci_high": float(high),
                               "boot_p_value": bootstrap_p_value(boot),
                               "boot_se_lift": float(boot.std(ddof=1))})
    return result


# --------------------------------------------------------------------------- bootstrap

def _poisson_sums(cols: np.ndarray, n_resamples: int, rng: np.random.Generator,
                  chunk_cells: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Column sums and user counts of ``n_resamples`` Poisson(1)-weighted resamples."""
    n = len(cols)
    chunk = max(1, chunk_cells // max(n, 1))
    sums, counts = [], []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        weights = rng.poisson(1.0, size=(size, n)).astype(np.float64)
        sums.append(weights @ cols)
        counts.append(weights.sum(axis=1))
    return np.concatenate(sums), np.concatenate(counts)


def bootstrap_lifts(metric_control: Metric, metric_treatment: Metric, n_resamples: int = 1000,
                    seed: int = 0) -> np.ndarray:
    """Relative lifts of ``n_resamples`` Poisson-bootstrap resamples (arms resampled apart)."""
    rng = np.random.default_rng(seed)
    kind = metric_control.kind
    sums_c, n_c = _poisson_sums(metric_control.columns(), n_resamples, rng)
    sums_t, n_t = _poisson_sums(metric_treatment.columns(), n_resamples, rng)
    est_c, _ = _arm_estimate(kind, sums_c, np.maximum(n_c, 2))
    est_t, _ = _arm_estimate(kind, sums_t, np.maximum(n_t, 2))
    return est_t / est_c - 1.0


def bootstrap_p_value(lifts: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "lift = 0": twice the smaller tail beyond zero.

    The resample count bounds its resolution (1000 resamples: no p below 0.002).
    """
    lifts = np.asarray(lifts, dtype=float)
    below = (np.sum(lifts <= 0) + 1) / (len(lifts) + 1)
    above = (np.sum(lifts >= 0) + 1) / (len(lifts) + 1)
    return float(min(1.0, 2 * min(below, above)))


# --------------------------------------------------------------------------- A/A

def aa_p_values(metrics: Mapping[str, Metric], n_replicates: int = 200, seed: int = 0,
                share: float = 0.5, subsets: Mapping[str, np.ndarray] | None = None,
                chunk_cells: int = 5_000_000) -> pd.DataFrame:
    """p-values of ``n_replicates`` random user splits of one untreated population.

    Every replicate splits the population's users at random: exactly ``round(share * N)``
    of them are "treatment". A metric covers all ``N`` users, or only those of a boolean
    mask in ``subsets`` (e.g. cold users; its ``x`` then holds those users' values, in
    order), so a replicate's labels are the same for every metric, as in a real test.
    Each metric is tested as in :func:`compare`. Returns one row per replicate, one
    column per metric. Replicates are processed in chunks of at most ``chunk_cells``
    labels, so memory stays bounded for large populations.
    """
    subsets = dict(subsets or {})
    sizes = {len(m.x) for name, m in metrics.items() if name not in subsets}
    sizes |= {len(mask) for mask in subsets.values()}
    if len(sizes) != 1:
        raise ValueError(f"metrics disagree on the population size: {sorted(sizes)}")
    n_pop = sizes.pop()
    rng = np.random.default_rng(seed)
    n_treated = int(round(share * n_pop))
    chunk = max(1, chunk_cells // n_pop)
    out: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    for start in range(0, n_replicates, chunk):
        size = min(chunk, n_replicates - start)
        picked = np.argpartition(rng.random((size, n_pop)), n_treated - 1, axis=1)
        treated = np.zeros((size, n_pop), dtype=np.float64)
        np.put_along_axis(treated, picked[:, :n_treated], 1.0, axis=1)
        for name, metric in metrics.items():
            cols = metric.columns()
            labels = treated if name not in subsets else treated[:, np.asarray(subsets[name], bool)]
            if labels.shape[1] != len(cols):
                raise ValueError(f"metric {name!r}: {len(cols)} values but its subset has "
                                 f"{labels.shape[1]} users")
            n_t = labels.sum(axis=1)
            sums_t = labels @ cols
            sums_c = cols.sum(0)[None, :] - sums_t
            out[name].append(_welch_p(metric.kind, sums_c, len(cols) - n_t, sums_t, n_t))
    out = {name: np.concatenate(parts) for name, parts in out.items()}
    return pd.DataFrame(out).rename_axis("replicate")


def false_positive_rate(p_values: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per metric: share of A/A p-values below ``alpha`` with a 95% (Wilson) interval."""
    rows = []
    for name in p_values.columns:
        p = p_values[name].dropna().to_numpy()
        hits, n = int(np.sum(p < alpha)), len(p)
        low, high = wilson_interval(hits, n)
        rows.append({"metric": name, "replicates": n, "false_positives": hits,
                     "fpr": hits / n if n else math.nan, "fpr_low": low, "fpr_high": high,
                     "alpha": alpha,
                     "ks_uniform_p": float(stats.kstest(p, "uniform").pvalue) if n else math.nan})
    return pd.DataFrame(rows)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``scipy.stats.binomtest``)."""
    if n == 0:
        return math.nan, math.nan
    interval = stats.binomtest(int(successes), int(n)).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


# --------------------------------------------------------------------------- power

def per_user_sd(metric: Metric) -> tuple[float, float]:
    """(estimate, per-user standard deviation) of a metric in one arm.

    For a ratio metric the per-user deviation is that of the linearised values
    ``(x - R y) / mean(y)``, so ``sd^2 / n`` is the delta-method variance.
    """
    cols = metric.columns()
    est, var = _arm_estimate(metric.kind, cols.sum(0), len(cols))
    return float(est), float(math.sqrt(var * len(cols)))


def minimum_detectable_effect(sd: float, mean: float, n_per_arm, alpha: float = 0.05,
                              power: float = 0.8) -> np.ndarray:
    """Smallest relative lift detected with probability ``power`` at two-sided ``alpha``.

    ``(z_{1-alpha/2} + z_power) * sd * sqrt(2 / n) / mean`` for ``n`` users per arm
    (equal arms, equal variances, normal approximation).
    """
    n = np.asarray(n_per_arm, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return z * sd * np.sqrt(2.0 / n) / mean


def users_per_arm_needed(sd: float, mean: float, lift: float, alpha: float = 0.05,
                         power: float = 0.8) -> float:
    """Users per arm at which a relative ``lift`` is the minimum detectable effect."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(2 * (z * sd / (lift * mean)) ** 2)


def analytic_power(sd: float, mean: float, lift: float, n_per_arm, alpha: float = 0.05
                   ) -> np.ndarray:
    """Probability that a two-sided test at ``alpha`` rejects, for a true relative ``lift``."""
    n = np.asarray(n_per_arm, dtype=float)
    shift = abs(lift) * mean / (sd * np.sqrt(2.0 / n))
    z = stats.norm.ppf(1 - alpha / 2)
    return stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift)


def subsampled_power(metric_control: Metric, metric_treatment: Metric, n_per_arm: int,
                     n_replicates: int = 200, alpha: float = 0.05, seed: int = 0) -> float:
    """Share of tests that reject when ``n_per_arm`` users are resampled from each arm.

    Users are drawn with replacement (at ``n_per_arm`` = the arm's size this is the
    bootstrap), so the arms' empirical distributions play the true ones: an empirical
    check of :func:`analytic_power` at the observed lift.
    """
    rng = np.random.default_rng(seed)
    kind = metric_control.kind
    cols_c, cols_t = metric_control.columns(), metric_treatment.columns()

    def sums(cols):
        total = np.zeros((n_replicates, cols.shape[1]))
        step = max(1, 2_000_000 // max(n_per_arm, 1))
        for start in range(0, n_replicates, step):
            stop = min(n_replicates, start + step)
            picked = rng.integers(0, len(cols), (stop - start, n_per_arm))
            total[start:stop] = cols[picked].sum(axis=1)
        return total

    p = _welch_p(kind, sums(cols_c), n_per_arm, sums(cols_t), n_per_arm)
    return float(np.mean(p < alpha))


def mde_curve(metrics_control: Mapping[str, Metric], n_per_arm: np.ndarray,
              alpha: float = 0.05, power: float = 0.8,
              coverage: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Relative MDE per metric over a grid of users per arm (sd from the control arm).

    ``coverage`` gives the share of an arm's users a metric covers (e.g. the cold share
    for cold-user DAU), so every curve is against *all* users per arm.
    """
    coverage = dict(coverage or {})
    rows = []
    for name, metric in metrics_control.items():
        mean, sd = per_user_sd(metric)
        covered = np.asarray(n_per_arm, dtype=float) * coverage.get(name, 1.0)
        mde = minimum_detectable_effect(sd, mean, covered, alpha, power)
        rows += [{"metric": name, "users_per_arm": int(n), "mde": float(m)}
                 for n, m in zip(n_per_arm, mde, strict=True)]
    return pd.DataFrame(rows)


def power_check(metrics_control: Mapping[str, Metric], metrics_treatment: Mapping[str, Metric],
                fractions=(0.125, 0.25, 0.5, 1.0), n_replicates: int = 200,
                alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Analytic power at the observed lift beside the share of subsampled tests that reject.

    For each metric and each fraction of the smaller arm, ``n`` users are drawn per arm
    (with replacement) ``n_replicates`` times.
    """
    rows = []
    for index, (name, control) in enumerate(metrics_control.items()):
        treatment = metrics_treatment[name]
        mean, sd = per_user_sd(control)
        observed = compare(control, treatment, alpha).lift
        smaller = min(len(control.x), len(treatment.x))
        for fraction in fractions:
            n = max(2, int(fraction * smaller))
            rows.append({
                "metric": name, "users_per_arm": n, "observed_lift": observed,
                "analytic_power": float(analytic_power(sd, mean, observed, n, alpha)),
                "subsampled_power": subsampled_power(control, treatment, n, n_replicates,
                                                     alpha, seed + index)})
    return pd.DataFrame(rows)
