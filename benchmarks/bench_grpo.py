"""Benchmark: Dr.GRPO step time and the share of it spent computing rewards.

Runs ``--steps`` GRPO steps on a built world, with the real five-reward scorer wrapped in
a timer. The policy is the profile's cached SFT checkpoint of ``--model`` when one exists
(its completions carry queries, so the rewards do real work), else a randomly initialised
ladder model (whose completions rarely contain a query list: reward time is then a floor). Prints the mean step
time and the share spent in reward scoring (target: under 20%).

    python benchmarks/bench_grpo.py --profile default --model s --steps 10 --compare-trl

``--compare-trl`` then runs the same steps from the same weights with TRL's own
log-probability path (its chunked fused LM head) and prints the ratio of step times.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

from newsstudy import data, embed, paths, rewards
from newsstudy.io import read_json
from newsstudy.policy import checkpoints, grpo, ladder, prompts, tokenizer


class TimedScorer:
    """A RewardScorer wrapper that adds up the seconds spent in ``score``."""

    def __init__(self, scorer: rewards.RewardScorer):
        self.scorer = scorer
        self.seconds = 0.0
        self.calls = 0

    def score(self, users, completions):
        started = time.perf_counter()
        try:
            return self.scorer.score(users, completions)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--model", default="s", choices=sorted(ladder.LADDER))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--users-per-step", type=int, default=4)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--max-completion-length", type=int, default=64)
    parser.add_argument("--compare-trl", action="store_true",
                        help="also time TRL's fused-head log-probabilities")
    args = parser.parse_args()

    world = data.load_world(args.profile)
    embedder = embed.get_embedder("static")
    scorer = TimedScorer(rewards.RewardScorer.from_world(world, embedder, 24, seed=0))
    users = world.split_users("train")[:200]
    user_prompts = prompts.build_prompts(world, users)
    cached = sorted((paths.profile_artifacts(args.profile) / "models").glob("sft-*"))
    cached = [c for c in cached if checkpoints.PolicyStore.is_complete(c)
              and read_json(c / checkpoints.COMPLETE).get("config", {}).get("model") == args.model]
    if cached:
        model, tok, _ = checkpoints.PolicyStore.load(cached[-1])
        source = f"SFT checkpoint {cached[-1].name}"
    else:
        tok = tokenizer.train_tokenizer(tokenizer.world_corpus_texts(world), 4096)
        model = ladder.build_policy(args.model, tok, seed=0)
        source = f"random {args.model}"
    settings = grpo.GRPOSettings(steps=args.steps, users_per_step=args.users_per_step,
                                 num_generations=args.generations,
                                 max_completion_length=args.max_completion_length)
    initial = copy.deepcopy(model)

    def run(policy, trainer_class=None) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            grpo.train_grpo(policy, tok, scorer, user_prompts, settings,
                            rewards.RewardWeights(), output_dir=tmp, progress=False,
                            trainer_class=trainer_class)
            return time.perf_counter() - started

    seconds = run(model)
    reward_seconds = scorer.seconds
    if args.compare_trl:
        from trl import GRPOTrainer

        trl_seconds = run(initial, GRPOTrainer)
    completions = args.users_per_step * args.generations
    print(f"policy: {source} ({model.num_parameters():,} parameters)")
    print(f"completions per step: {completions} ({args.max_completion_length} tokens at most)")
    print(f"GRPO step time: {seconds / args.steps:.2f} s")
    print(f"reward scoring: {reward_seconds / args.steps:.3f} s per step")
    print(f"share of step time in rewards: {reward_seconds / seconds:.1%} (target < 20%)")
    if args.compare_trl:
        print(f"GRPO step time with TRL's fused-head log-probabilities: "
              f"{trl_seconds / args.steps:.2f} s ({trl_seconds / seconds:.2f}x ours)")


if __name__ == "__main__":
    main()
