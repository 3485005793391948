"""Dr.GRPO's learning rate, steps and KL weight, chosen on validation users.

Notebook 03's improvement check asks that GRPO raise what it optimises: the composite
reward of the teacher's sampled lists on held-out validation users, paired against the
prompt-only policy. This script trains the profile's teacher recipe (``teacher.yaml``,
from its cached SFT warm start) with each setting of ``--learning-rates`` x ``--steps`` x
``--betas``, two single-thread processes at a time, and prints per setting the paired
reward gain over prompt-only and the paired Recall@10 gain (one list per user, as
served), both on the validation users of the shared protocol. Test users are never read.

    python benchmarks/tune_grpo.py --profile default --learning-rates 0.003 0.01 --steps 100 200
"""

from __future__ import annotations

import argparse
import itertools
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from newsstudy import evaluation, params, protocol, teacher  # noqa: E402
from newsstudy.rewards import RewardScorer  # noqa: E402
from newsstudy.world import data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.003, 0.01])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--betas", type=float, nargs="+", default=[0.04])
    parser.add_argument("--samples", type=int, default=4, help="lists per user for the reward")
    args = parser.parse_args()

    base = params.load_params("03_grpo", args.profile)
    world = data.load_world(args.profile)
    scorer = RewardScorer.from_settings(world, base)
    users = protocol.val_users(world, base.seed, base.n_val_users)
    serving = protocol.serving(world, base)
    grid = list(itertools.product(args.learning_rates, args.steps, args.betas))
    variants = [base.model_copy(update={"grpo_learning_rate": lr, "grpo_steps": steps,
                                        "beta": beta}) for lr, steps, beta in grid]
    pipe = teacher.PolicyPipeline(world, base, scorer, log=lambda *a: None)
    warm = pipe.prompt_only()
    from newsstudy.parallel import map_jobs

    map_jobs(teacher.train_job, [(v, v.model, v.seed, vars(scorer.weights)) for v in variants])
    before = teacher.mean_rewards(pipe, warm, users, args.samples, base.seed + 11)
    recall_before, _ = evaluation.evaluate_policy(world, serving, pipe.policy(warm, seed=base.seed),
                                                  users, fusion=base.fusion)
    print(f"{len(users)} validation users; prompt-only reward {before['total'].mean():.4f}, "
          f"R@10 {recall_before['recall@10'].mean():.4f}")
    print(f"{'lr':>7} {'steps':>5} {'beta':>5}  {'reward gain [95% CI]':>30}  "
          f"{'R@10 gain [95% CI]':>30}")
    for (lr, steps, beta), variant in zip(grid, variants, strict=True):
        tuned = teacher.PolicyPipeline(world, variant, scorer, log=lambda *a: None)
        checkpoint = tuned.teacher(variant.seed, scorer.weights)
        after = teacher.mean_rewards(tuned, checkpoint, users, args.samples, base.seed + 11)
        gain = evaluation.paired_difference(after["total"], before["total"])
        recall, _ = evaluation.evaluate_policy(world, serving,
                                               tuned.policy(checkpoint, seed=base.seed), users,
                                               fusion=base.fusion)
        recall_gain = evaluation.paired_difference(recall["recall@10"], recall_before["recall@10"])
        print(f"{lr:>7g} {steps:>5} {beta:>5g}  {gain.text(4):>30}  {recall_gain.text(4):>30}",
              flush=True)


if __name__ == "__main__":
    main()
