"""Every number and label of the paper, once (PAPER.md: arXiv:2602.15005 and its authors' README).

Zhu, Zhao, Di, Yan, Zhao. *Learning User Interests via Reasoning and Distillation for
Cross-Domain News Recommendation* (Feb 2026). The notebooks' tables, the report's claims
and the figures read the paper's values from here; nothing else restates them. Values read
off the paper's bar chart (model-capacity scaling) are approximate, as PAPER.md says.

Metric keys are the study's own (``recall@10``, ``ndcg@10``, ...; see
:data:`newsstudy.metrics.DEFAULT_METRICS`); pairs are ``(R@10, N@10)``.
"""

from __future__ import annotations

import pandas as pd

MODELS = {"teacher": "Qwen2.5-32B-Instruct", "student": "Qwen2.5-0.5B-Instruct"}
"""The paper's teacher and student."""

OFFLINE: dict[str, dict[str, float]] = {
    "gru4rec": {"recall@5": .144, "recall@10": .189, "ndcg@5": .129, "ndcg@10": .159, "mrr": .117},
    "sasrec": {"recall@5": .158, "recall@10": .206, "ndcg@5": .141, "ndcg@10": .173, "mrr": .129},
    "nrhub": {"recall@5": .162, "recall@10": .212, "ndcg@5": .145, "ndcg@10": .178, "mrr": .133},
    "pinsage": {"recall@5": .168, "recall@10": .220, "ndcg@5": .149, "ndcg@10": .184, "mrr": .138},
    "hstu": {"recall@5": .216, "recall@10": .250, "ndcg@5": .194, "ndcg@10": .228, "mrr": .184},
    "prompt_only_32b": {"recall@5": .153, "recall@10": .194, "ndcg@5": .139, "ndcg@10": .188,
                        "mrr": .147},
    "rl_teacher_32b": {"recall@5": .257, "recall@10": .271, "ndcg@5": .209, "ndcg@10": .241,
                       "mrr": .199},
    "student_0_5b": {"recall@5": .233, "recall@10": .261, "ndcg@5": .196, "ndcg@10": .235,
                     "mrr": .180},
}
"""Offline retrieval table: row -> metric -> value. Baseline keys are those of
``newsstudy.baselines.BASELINES``."""

OFFLINE_LABELS = {
    "gru4rec": "GRU", "sasrec": "SASRec", "nrhub": "NRHUB", "pinsage": "PinSage",
    "hstu": "HSTU", "prompt_only_32b": "LLM 32B, prompt only",
    "rl_teacher_32b": "RL teacher (32B)", "student_0_5b": "Distilled student (0.5B)",
}
"""The offline table's rows in the paper's order, with the paper's labels."""

OFFLINE_BASELINES = ("gru4rec", "sasrec", "nrhub", "pinsage", "hstu")
"""The trained baselines of the offline table."""

REWARD_ABLATION: dict[str, tuple[float, float]] = {
    "all five": (.271, .241), "without align": (.162, .141), "without cov": (.115, .093),
    "without spec": (.196, .184), "without div": (.179, .144), "without struct": (.193, .184),
}
"""Reward ablation: the teacher retrained without one reward -> (R@10, N@10)."""

DISTILLATION: dict[str, tuple[float, float]] = {
    "teacher": (.271, .241), "on-policy": (.261, .235), "supervised": (.245, .207),
    "none": (.187, .179),
}
"""Distillation ablation: the 32B teacher and the 0.5B student trained three ways."""

CAPACITY: dict[str, tuple[float, float]] = {
    "0.5B": (.187, .179), "1.5B": (.193, .186), "3B": (.194, .189), "7B": (.201, .196),
    "14B": (.238, .216), "32B": (.257, .241),
}
"""Model-capacity scaling (Qwen2.5 size -> (R@10, N@10)), read off a bar chart."""

CAPACITY_PARAMS = {"0.5B": 0.5e9, "1.5B": 1.5e9, "3B": 3e9, "7B": 7e9, "14B": 14e9, "32B": 32e9}
"""Parameters of each Qwen2.5 size of the capacity study."""

BEST_OF_N: dict[int, tuple[float, float]] = {
    1: (.271, .241), 2: (.294, .267), 4: (.301, .274), 8: (.305, .277), 16: (.307, .279),
    32: (.310, .281),
}
"""Inference-time sampling: best of N lists by the composite reward -> (R@10, N@10)."""

AB_DAYS = 7
"""Length of the online A/B test in days."""

AB_TEST: dict[str, dict[str, float]] = {
    "dau": {"lift": 0.0095, "p_value": 0.012},
    "ctr": {"lift": 0.0022, "p_value": 0.031},
    "cold_dau": {"lift": 0.0438, "p_value": 0.004},
}
"""Online A/B test: metric -> relative lift (treatment / control - 1) and p-value. The
paper reports no arm values, intervals or sample sizes."""

AB_LABELS = {"dau": "DAU", "ctr": "CTR", "cold_dau": "Cold-user DAU"}
"""A/B metric key -> the paper's name for it."""

SERVING = {"teacher": 2.0, "student": 67.0}
"""Inference efficiency, users per second."""

SPEEDUP_CLAIMED = 30.0
"""The paper's claim: the student serves "over 30x" the teacher's users per second."""


def offline_table() -> pd.DataFrame:
    """The offline retrieval table in the paper's row order and labels."""
    from newsstudy.metrics import METRIC_LABELS

    rows = [{"method": label, **{METRIC_LABELS[m]: OFFLINE[key][m] for m in METRIC_LABELS}}
            for key, label in OFFLINE_LABELS.items()]
    return pd.DataFrame(rows)


def pairs_table(values: dict, first: str) -> pd.DataFrame:
    """A ``name -> (R@10, N@10)`` mapping as a table."""
    return pd.DataFrame([{first: name, "R@10": r, "N@10": n} for name, (r, n) in values.items()])


def tables() -> dict[str, pd.DataFrame]:
    """Every table of the paper, by the name the report uses for it."""
    return {
        "offline": offline_table(),
        "reward_ablation": pairs_table(REWARD_ABLATION, "method"),
        "distillation": pairs_table(DISTILLATION, "student training"),
        "scaling": pd.DataFrame([{"model": f"Qwen2.5-{name}", "R@10": r, "N@10": n}
                                 for name, (r, n) in CAPACITY.items()]),
        "best_of_n": pairs_table(BEST_OF_N, "N"),
        "ab_test": pd.DataFrame([{"metric": AB_LABELS[key], "lift": f"{v['lift']:+.2%}",
                                  "p": v["p_value"]} for key, v in AB_TEST.items()]),
        "efficiency": pd.DataFrame([{"model": name, "users/s": value}
                                    for name, value in SERVING.items()]),
    }


LLM_ROW_OF: dict[str, str] = {"prompt-only": "prompt_only_32b", "RL teacher": "rl_teacher_32b"}
"""Notebook 03's method names -> the keys of their rows in :data:`OFFLINE`."""
STUDENT_ROW_OF: dict[str, str] = {"on-policy": "student_0_5b"}
"""Notebook 05's published student method -> the key of its row in :data:`OFFLINE`."""
