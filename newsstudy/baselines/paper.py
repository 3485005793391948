"""The paper's offline retrieval table (PAPER.md, from the authors' README)."""

from __future__ import annotations

PAPER_OFFLINE_TABLE: dict[str, dict[str, float]] = {
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
"""Method -> metric -> value. Baseline keys match ``newsstudy.baselines.BASELINES``."""

DISPLAY_NAMES: dict[str, str] = {
    "gru4rec": "GRU", "sasrec": "SASRec", "nrhub": "NRHUB", "pinsage": "PinSage",
    "hstu": "HSTU", "popularity": "Popularity", "content": "Content (mean embedding)",
    "prompt_only_32b": "LLM prompt-only (ours: SFT on surface demos)",
    "rl_teacher_32b": "RL teacher (ours: Dr.GRPO)",
    "student_0_5b": "Distilled student (ours: on-policy, from 04's largest size)",
}

# Method names of notebook 03's per-user table -> keys of PAPER_OFFLINE_TABLE.
LLM_ROWS = {"prompt-only": "prompt_only_32b", "RL teacher": "rl_teacher_32b"}
STUDENT_ROWS = {"on-policy": "student_0_5b"}  # notebook 05's method -> the paper's row
