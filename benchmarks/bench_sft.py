"""Benchmark: SFT step time of three ways to compute the same completion loss.

Trains the same ladder model from the same weights on the same surface demonstrations,
with the study's prompts (``--max-signals``/``--max-chars`` as the default teacher's),
three times on one torch thread:

- ``newsstudy.policy.sft`` as it is: the LM head only on the scored (completion) positions
  (:func:`newsstudy.policy.sft.completion_head_loss`);
- the loss from the model's logits at every position (``model(**batch).loss``);
- TRL's ``SFTTrainer`` unchanged (its chunked fused LM head).

Prints the step times, their ratios, and the largest difference between the runs' logged
losses.

    python benchmarks/bench_sft.py --profile default --model s --users 320
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

from newsstudy.policy import generate, ladder, prompts, sft, tokenizer
from newsstudy.world import data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--model", default="s", choices=sorted(ladder.LADDER))
    parser.add_argument("--users", type=int, default=640)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-signals", type=int, default=32)
    parser.add_argument("--max-chars", type=int, default=4000)
    args = parser.parse_args()

    world = data.load_world(args.profile)
    users = [int(u) for u in world.split_users("train")[: args.users]]
    demos = prompts.surface_demonstrations(prompts.surface_context(world), users)
    user_prompts = prompts.build_prompts(world, users, args.max_signals, args.max_chars)
    tok = tokenizer.train_tokenizer(tokenizer.world_corpus_texts(world), 4096)
    initial = ladder.build_policy(args.model, tok, seed=0)

    def run(trainer_class) -> tuple[float, list[float]]:
        with generate.torch_threads(1), tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            _, logs = sft.train_sft(copy.deepcopy(initial), tok, [user_prompts[u] for u in users],
                                    [demos[u] for u in users], lr=6e-3, epochs=1,
                                    batch_size=args.batch_size, seed=0, output_dir=tmp,
                                    progress=False, logging_steps=1, trainer_class=trainer_class)
            return time.perf_counter() - started, [r["loss"] for r in logs if "loss" in r]

    from trl import SFTTrainer

    class FullLogitsTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs, use_cache=False, num_items_in_batch=num_items_in_batch)
            return (outputs.loss, outputs) if return_outputs else outputs.loss

    ours, our_losses = run(sft.plain_loss_trainer_class())
    full, full_losses = run(FullLogitsTrainer)
    trl_, trl_losses = run(SFTTrainer)
    steps = len(our_losses)
    print(f"{steps} SFT steps of {args.batch_size} ({args.model}, one thread, "
          f"{args.max_signals} signals per prompt)")
    print(f"LM head on completion positions (ours): {ours / steps:.3f} s per step")
    print(f"LM head on every position: {full / steps:.3f} s per step ({full / ours:.2f}x ours)")
    print(f"TRL fused-head loss: {trl_ / steps:.3f} s per step ({trl_ / ours:.2f}x ours)")
    for name, losses in (("every position", full_losses), ("TRL", trl_losses)):
        print(f"largest difference in logged loss, ours vs {name}: "
              f"{max(abs(a - b) for a, b in zip(our_losses, losses, strict=True)):.2e}")


if __name__ == "__main__":
    main()
