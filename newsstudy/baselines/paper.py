"""Our names for the rows of the paper's offline table (its values: :mod:`newsstudy.paper`)."""

from __future__ import annotations

DISPLAY_NAMES: dict[str, str] = {
    "gru4rec": "GRU", "sasrec": "SASRec", "nrhub": "NRHUB", "pinsage": "PinSage",
    "hstu": "HSTU", "popularity": "Popularity", "content": "Content (mean embedding)",
    "prompt_only_32b": "LLM prompt-only (ours: SFT on surface demos)",
    "rl_teacher_32b": "RL teacher (ours: Dr.GRPO)",
    "student_0_5b": "Distilled student (ours: on-policy, from 04's largest size)",
}
