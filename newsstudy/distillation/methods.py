"""The four students of notebook 05, in the order of its tables."""

METHODS = ("none", "supervised", "on-policy", "on-policy + GRPO")
"""No distillation, supervised on the teacher's lists, on-policy (reverse KL on the
student's own samples), and on-policy followed by Dr.GRPO."""
