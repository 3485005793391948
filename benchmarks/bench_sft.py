"""Benchmark: SFT step time of four ways to compute the same completion loss.

Trains the same ladder model from the same weights on the same demonstrations (the
profile's teacher recipe: its prompts and its ``demos_per_user`` demonstrations per user),
four times on one torch thread, ``--batch-size`` completions a step:

- ``newsstudy.policy.sft`` as it is: each distinct prompt read once per step, its
  completions read after its cached keys and values, the LM head only where a completion
  token is predicted (:func:`newsstudy.policy.sft.shared_prompt_loss`);
- each pair as its own row, the LM head only on completion positions
  (:func:`newsstudy.policy.sft.completion_head_loss`);
- each pair as its own row, the loss from the model's logits at every position
  (``model(**batch).loss``);
- TRL's ``SFTTrainer`` unchanged (pairs one per row, its chunked fused LM head).

Prints the step times and their ratios to the first, and the first step's loss of each
(the same model and the same loss, so equal up to which pairs the first batch holds).

    python benchmarks/bench_sft.py --profile default --model xl --users 64
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

from newsstudy import teacher
from newsstudy.params import load_params
from newsstudy.policy import generate, ladder, sft
from newsstudy.scaling import capacity
from newsstudy.world import data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--model", default="s", choices=sorted(ladder.LADDER))
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    world = data.load_world(args.profile)
    settings = capacity.size_settings(load_params("04_scaling", args.profile), args.model)
    pipe = teacher.PolicyPipeline(world, settings, None, log=lambda *a: None)
    pairs = pipe.demonstration_pairs(pipe.train_users()[: args.users])
    tok = pipe.tokenizer()
    initial = ladder.build_policy(args.model, tok, seed=0)

    def run(trainer_class) -> tuple[float, int, float]:
        with generate.torch_threads(1), tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            _, logs = sft.train_sft(copy.deepcopy(initial), tok, [p for p, _ in pairs],
                                    [d for _, d in pairs], lr=1e-3, epochs=1,
                                    batch_size=args.batch_size, seed=0, output_dir=tmp,
                                    progress=False, logging_steps=1, trainer_class=trainer_class)
            losses = [r["loss"] for r in logs if "loss" in r]
            return time.perf_counter() - started, len(losses), losses[0]

    from trl import SFTTrainer

    class FullLogitsTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs, use_cache=False, num_items_in_batch=num_items_in_batch)
            return (outputs.loss, outputs) if return_outputs else outputs.loss

    runs = {"shared prompts, LM head on completion positions (ours)": run(None),
            "one pair per row, LM head on completion positions": run(sft.plain_loss_trainer_class()),
            "one pair per row, LM head on every position": run(FullLogitsTrainer),
            "one pair per row, TRL's fused-head loss": run(SFTTrainer)}
    print(f"{len(pairs)} demonstrations of {args.users} users ({args.model}, "
          f"{ladder.parameter_count(args.model, len(tok)):,} parameters, one thread, "
          f"{args.batch_size} completions a step)")
    (ours, steps, _), *_ = runs.values()
    for name, (seconds, n, first) in runs.items():
        print(f"{name}: {seconds / n:.3f} s per step over {n} steps "
              f"({seconds / n / (ours / steps):.2f}x ours; first loss {first:.4f})")


if __name__ == "__main__":
    main()
