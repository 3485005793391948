"""Benchmark: Dr.GRPO step time and the share of it spent computing rewards.

Runs ``--steps`` GRPO steps of the profile's teacher recipe (``params/<profile>/teacher.yaml``:
model, prompts, decoding, users per step, G) from its SFT checkpoint (trained first if not
cached), with the real five-reward scorer wrapped in a timer. Prints the mean step time
and the share spent in reward scoring (target: under 20%).

    python benchmarks/bench_grpo.py --profile default --steps 10 --compare-trl

``--compare-trl`` then runs the same steps from the same weights twice more: with the
plain-logits path reading every row whole, in sampling and in log-probabilities (each
prompt once per completion, as before prompts were shared), and with TRL's own path (rows
sampled whole, log-probabilities from its chunked fused LM head), and prints the ratios
of step times.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import tempfile
import time

import torch

from newsstudy import rewards, teacher
from newsstudy.params import load_params
from newsstudy.policy import checkpoints
from newsstudy.teacher import grpo
from newsstudy.world import data


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
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--compare-trl", action="store_true",
                        help="also time TRL's fused-head log-probabilities")
    args = parser.parse_args()

    torch.set_num_threads(1)
    recipe = load_params("03_grpo", args.profile)  # the teacher recipe and its seed
    world = data.load_world(args.profile)
    real = rewards.RewardScorer.from_settings(world, recipe)
    scorer = TimedScorer(real)
    pipeline = teacher.PolicyPipeline(world, recipe, real, log=lambda *_: None)
    started = time.perf_counter()
    checkpoint = pipeline.prompt_only()  # the recipe's SFT policy (trained once, then cached)
    sft_seconds = time.perf_counter() - started
    model, tok, _ = checkpoints.PolicyStore.load(checkpoint)
    user_prompts = pipeline.prompts(pipeline.train_users()[:200])
    settings = dataclasses.replace(pipeline.grpo_settings(0), steps=args.steps)
    initial = copy.deepcopy(model)

    def run(policy, trainer_class=None) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            grpo.train_grpo(policy, tok, scorer, user_prompts, settings, real.weights,
                            output_dir=tmp, progress=False, trainer_class=trainer_class)
            return time.perf_counter() - started

    seconds = run(model)
    reward_seconds = scorer.seconds
    if args.compare_trl:
        from trl import GRPOTrainer

        def whole_rows(model, input_ids, attention_mask, logits_to_keep):
            return model(input_ids=input_ids, attention_mask=attention_mask,
                         logits_to_keep=logits_to_keep + 1).logits[:, :-1]

        shared = grpo.completion_logits, grpo.prompts_read_once
        grpo.completion_logits = whole_rows
        grpo.prompts_read_once = lambda model: contextlib.nullcontext()
        try:
            whole_seconds = run(copy.deepcopy(initial))
        finally:
            grpo.completion_logits, grpo.prompts_read_once = shared
        trl_seconds = run(initial, GRPOTrainer)
    completions = settings.users_per_step * settings.num_generations
    print(f"policy: the {args.profile} recipe's SFT checkpoint {checkpoint.name} "
          f"({model.num_parameters():,} parameters; {sft_seconds:.0f} s to load or train)")
    print(f"completions per step: {completions} ({settings.max_completion_length} tokens at most), "
          f"one torch thread")
    print(f"GRPO step time: {seconds / args.steps:.2f} s")
    print(f"reward scoring: {reward_seconds / args.steps:.3f} s per step")
    print(f"share of step time in rewards: {reward_seconds / seconds:.1%} (target < 20%)")
    if args.compare_trl:
        print(f"GRPO step time reading every row whole (no shared prompts): "
              f"{whole_seconds / args.steps:.2f} s ({whole_seconds / seconds:.2f}x ours)")
        print(f"GRPO step time with TRL's fused-head log-probabilities: "
              f"{trl_seconds / args.steps:.2f} s ({trl_seconds / seconds:.2f}x ours)")


if __name__ == "__main__":
    main()
