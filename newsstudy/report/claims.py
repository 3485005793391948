"""The paper's claims: each one's statement, the paper's numbers, its check
(:mod:`newsstudy.report.checks`) and the instrument gates it waits on; ``evaluate``
turns them into the rows of the claims table, by the rules of
:mod:`newsstudy.report.verdicts`, from the results files (:mod:`newsstudy.report.loading`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from newsstudy import paper
from newsstudy.distillation.results import RatioGate
from newsstudy.gates import FormatGate, ImitationGate
from newsstudy.report.checks import (
    PAPER_BEST_BASELINE,
    check_ab,
    check_best_of_n,
    check_capacity,
    check_distillation,
    check_efficiency,
    check_reward_ablation,
    check_rl_teacher_best,
    offline_label,
)
from newsstudy.report.loading import Results
from newsstudy.report.verdicts import (
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    UNTESTABLE,
    VERDICTS,
    Claim,
    Missing,
    Outcome,
    Part,
    as_paired,
    explain,
    f3,
    verdict,
)
from newsstudy.results import PairedGate
from newsstudy.scaling.results import FailingGate, ImitationLadderGate, SpanGate

__all__ = ["CLAIMS", "Claim", "ClaimSpec", "LADDER_GATES", "NOT_REPRODUCED", "NOT_RUN", "PARTLY", "Part", "REPRODUCED", "Results", "TEACHER_GATES", "UNTESTABLE", "VERDICTS", "VERIFIABLE_GATES", "WORLD_GATES", "as_paired", "check_best_of_n", "evaluate", "evaluate_all", "failed_gates", "gate_numbers", "verdict"]
"""The claims and, handed on, the verdict rules' and the loader's names their readers use."""


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


"""Per-user table name (``tables/<name>_per_user.csv``) -> the notebook that writes it."""


"""The students the distillation claim orders (05's method names)."""


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
