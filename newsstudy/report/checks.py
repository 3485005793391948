"""The per-claim checks: each reads the results files (:class:`~newsstudy.report.loading.Results`)
and returns an :class:`~newsstudy.report.verdicts.Outcome`: the numbers in words, the
parts of the claim and its headline effect. The verdict rules are in
:mod:`newsstudy.report.verdicts`, the claims and their gates in :mod:`newsstudy.report.claims`.
"""

from __future__ import annotations

import math
from dataclasses import replace

from newsstudy import distillation, paper
from newsstudy.baselines.paper import DISPLAY_NAMES
from newsstudy.evaluation import PairedDifference
from newsstudy.report.loading import Results
from newsstudy.report.verdicts import (
    ALPHA,
    NO_PER_USER,
    Effect,
    Missing,
    Outcome,
    Part,
    as_paired,
    beats,
    greater,
    known,
    number,
    paired_estimate,
    threshold,
)
from newsstudy.results import Estimate, key

PAPER_BEST_BASELINE = max(paper.OFFLINE_BASELINES,
                          key=lambda m: paper.OFFLINE[m]["recall@10"])
"""The paper's best baseline on Recall@10 (the one its teacher is compared with)."""


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


def offline_label(key: str) -> str:
    return DISPLAY_NAMES.get(key, key).split(" (")[0]


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
