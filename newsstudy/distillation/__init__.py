"""The students of notebook 05: four ways to get a small query writer from the teacher.

Every student is the ``student`` ladder size and starts from the same place, its own SFT
warm start on surface demonstrations, so the methods differ only in what comes after.
The student trains as notebook 04 trained the teacher: 04's capacity regime
(:func:`newsstudy.scaling.capacity.regime_of`: its training users, GRPO steps and that size's SFT
recipe), so teacher and student see the same users and the no-distillation student is
04's own policy at the student's size:

- ``none``: Dr.GRPO on the five rewards, the teacher's recipe (no teacher involved);
- ``supervised``: SFT on the teacher's lists as served (its own decoding, raw tokens)
  for the distillation users;
- ``on-policy``: the student samples, and learns per-token reverse KL to the teacher on
  its own samples (:func:`newsstudy.policy.distill.on_policy_distill`, beta = 1);
- ``on-policy + GRPO`` (beyond the paper): on-policy, then a short Dr.GRPO phase.

The teacher is the checkpoint notebook 04 publishes as ``distillation-teacher`` (its
largest ladder size); teacher and student share the world's tokenizer. Supervised and
on-policy distillation read the prompts of ``distill_train_users`` of the student's
training users. Every student is cached in the profile's checkpoint store under the hash
of its configuration (including the teacher checkpoint it learned from), so re-runs load
instead of training. :func:`train_student` trains and measures one (method, seed) in its
own process (:func:`newsstudy.parallel.map_jobs`).

The first seed of ``supervised`` and ``on-policy`` also records curves: Recall@10 of
lists in the policy's decoding (as served) for a fixed set of validation users and the reverse KL to the teacher on the
student's own samples, every ``curve_every`` steps.
"""

from __future__ import annotations

from newsstudy import lazy
from newsstudy.distillation.methods import METHODS

__all__ = ["METHODS"]

# The body (students.py) imports torch and TRL; it is imported on first use of one of its names.
__getattr__, __dir__ = lazy.forward(__name__, "students")
