"""The paper's numbers that the report sets beside ours (all from PAPER.md).

Each table lives beside the code of the notebook that regenerates it and is imported from
there; this module only gathers them for the report. Values read off the paper's bar
chart (capacity scaling) are approximate, as PAPER.md says.
"""

from __future__ import annotations

import pandas as pd

from newsstudy.ab.paper import PAPER_AB_TEST
from newsstudy.baselines.paper import PAPER_OFFLINE_TABLE
from newsstudy.distillation_report import PAPER_DISTILLATION, PAPER_SERVING
from newsstudy.scaling_report import PAPER_BEST_OF_N, PAPER_CAPACITY, PAPER_CAPACITY_PARAMS
from newsstudy.teacher_report import PAPER_ABLATION

# Offline table rows in the paper's order, with their labels.
OFFLINE_ROWS = {
    "gru4rec": "GRU", "sasrec": "SASRec", "nrhub": "NRHUB", "pinsage": "PinSage",
    "hstu": "HSTU", "prompt_only_32b": "LLM 32B, prompt only",
    "rl_teacher_32b": "RL teacher (32B)", "student_0_5b": "Distilled student (0.5B)",
}
OFFLINE_BASELINES = ("gru4rec", "sasrec", "nrhub", "pinsage", "hstu")

# Reward ablation: method -> (R@10, N@10).
REWARD_ABLATION: dict[str, tuple[float, float]] = dict(PAPER_ABLATION)

# Distillation ablation (R@10, N@10): teacher 32B, student 0.5B trained three ways.
DISTILLATION: dict[str, tuple[float, float]] = {
    key: PAPER_DISTILLATION[key] for key in ("teacher", "on-policy", "supervised", "none")
}

# Model-capacity scaling: Qwen2.5 size -> (parameters, R@10, N@10).
SCALING: dict[str, tuple[float, float, float]] = {
    name: (PAPER_CAPACITY_PARAMS[name], r, n) for name, (r, n) in PAPER_CAPACITY.items()
}

# Best-of-N by the composite reward: N -> (R@10, N@10).
BEST_OF_N: dict[int, tuple[float, float]] = dict(PAPER_BEST_OF_N)

# Online A/B test, 7 days: metric -> (relative lift, p-value).
AB_TEST: dict[str, tuple[float, float]] = {
    key: (value["lift"], value["p_value"]) for key, value in PAPER_AB_TEST.items()
}
AB_LABELS = {"dau": "DAU", "ctr": "CTR", "cold_dau": "cold-user DAU"}

# Inference efficiency, users per second.
THROUGHPUT: dict[str, float] = dict(PAPER_SERVING)
SPEEDUP_CLAIMED = 30.0  # "over 30x"


def offline_table() -> pd.DataFrame:
    """The paper's offline retrieval table, its row order."""
    columns = {"recall@5": "R@5", "recall@10": "R@10", "ndcg@5": "N@5", "ndcg@10": "N@10",
               "mrr": "MRR"}
    rows = [{"method": label, **{columns[m]: PAPER_OFFLINE_TABLE[key][m] for m in columns}}
            for key, label in OFFLINE_ROWS.items()]
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
                                 for name, (_, r, n) in SCALING.items()]),
        "best_of_n": pairs_table(BEST_OF_N, "N"),
        "ab_test": pd.DataFrame([{"metric": AB_LABELS[key], "lift": f"{lift:+.2%}", "p": p}
                                 for key, (lift, p) in AB_TEST.items()]),
        "efficiency": pd.DataFrame([{"model": name, "users/s": value}
                                    for name, value in THROUGHPUT.items()]),
    }
