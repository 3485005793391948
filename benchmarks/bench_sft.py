"""Benchmark: SFT step time with the plain logits loss against TRL's fused LM-head loss.

Trains the same ladder model from the same weights on the same surface demonstrations
twice, once with ``newsstudy.policy.sft`` as it is (the loss from the model's logits) and
once with TRL's ``SFTTrainer`` unchanged (its chunked fused LM head), on one torch thread,
and prints both step times, their ratio, and the largest difference between the two runs'
logged losses.

    python benchmarks/bench_sft.py --profile default --model s --users 640
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
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    world = data.load_world(args.profile)
    users = [int(u) for u in world.split_users("train")[: args.users]]
    demos = prompts.surface_demonstrations(prompts.surface_context(world), users)
    user_prompts = prompts.build_prompts(world, users, max_chars=300)
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

    ours, our_losses = run(sft.plain_loss_trainer_class())
    trl_, trl_losses = run(SFTTrainer)
    steps = len(our_losses)
    print(f"{steps} SFT steps of {args.batch_size} ({args.model}, one thread)")
    print(f"plain logits loss: {ours / steps:.3f} s per step")
    print(f"TRL fused-head loss: {trl_ / steps:.3f} s per step ({trl_ / ours:.2f}x ours)")
    print(f"largest difference in logged loss: "
          f"{max(abs(a - b) for a, b in zip(our_losses, trl_losses, strict=True)):.2e}")


if __name__ == "__main__":
    main()
