"""Benchmark: serving speed of a teacher-size and a student-size policy (users/s, latency).

Each model writes one list per user (greedy, N = 1, as in serving) for ``--users`` test
users of a built world, in batches of ``--batch-size``; ``newsstudy.policy.distill.serving_speed``
times it. Per-user latency is the wall time of the batch the user was served in. A model
is the profile's cached checkpoint of that ladder size when notebook 03 made one
(GRPO preferred, then SFT), else a randomly initialised one (``--random`` forces that
for both, so both write about ``--max-new-tokens`` tokens and the speeds compare pure
model cost). A trained model that stops early serves faster: the mean tokens written per
user are printed beside the speeds. Prints the student/teacher throughput ratio beside
the paper's (teacher 32B: 2 users/s, student 0.5B: 67 users/s, on GPUs).

``--distill-steps N`` also runs N steps of on-policy distillation of the teacher into
a fresh student of the same vocabulary and prints steps/s.

    python benchmarks/bench_serving.py --profile default --teacher s --student xs
"""

from __future__ import annotations

import argparse
import time

from newsstudy import paper, paths
from newsstudy.io import read_json
from newsstudy.params import load_params
from newsstudy.policy import checkpoints, distill, generate, ladder, prompts, tokenizer
from newsstudy.world import data

PAPER_USERS_PER_SECOND = paper.SERVING


def cached_checkpoint(profile: str, size: str, world_hash: str):
    """The newest complete GRPO (else SFT) checkpoint of a ladder size for this world, or None."""
    folder = paths.profile_artifacts(profile) / "models"
    for kind in ("grpo", "sft"):
        found = []
        for path in folder.glob(f"{kind}-*"):
            if not checkpoints.PolicyStore.is_complete(path):
                continue
            config = read_json(path / checkpoints.COMPLETE).get("config", {})
            if config.get("model") == size and config.get("world") == world_hash:
                found.append(path)
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
    return None


def world_tokenizer(profile: str, world):
    """A tokenizer notebook 03 cached for the profile, else one trained on the world's text."""
    folders = sorted((paths.profile_artifacts(profile) / "models").glob("tokenizer-*"),
                     key=lambda p: p.stat().st_mtime)
    folders = [f for f in folders if (f / "tokenizer.json").exists()]
    if folders:
        return tokenizer.load_tokenizer(folders[-1])
    recipe = load_params("03_grpo", "default")
    texts = tokenizer.world_corpus_texts(world, recipe.n_queries, recipe.max_prompt_signals,
                                         recipe.prompt_candidates)
    return tokenizer.train_tokenizer(texts, recipe.vocab_size)


def load_or_build(profile: str, size: str, world, random_init: bool, fallback_tokenizer):
    """``(model, tokenizer, source)`` for a ladder size."""
    path = None if random_init else cached_checkpoint(profile, size, world.manifest["world_hash"])
    if path is not None:
        model, tok, _ = checkpoints.PolicyStore.load(path)
        return model, tok, f"checkpoint {path.name}"
    tok = fallback_tokenizer()
    return ladder.build_policy(size, tok, seed=0), tok, "random init"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--teacher", default="s", choices=sorted(ladder.LADDER))
    parser.add_argument("--student", default="xs", choices=sorted(ladder.LADDER))
    parser.add_argument("--users", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: as the pipeline runs small models)")
    parser.add_argument("--random", action="store_true", help="random init for both models")
    parser.add_argument("--distill-steps", type=int, default=0,
                        help="also time this many on-policy distillation steps (0: skip)")
    args = parser.parse_args()

    world = data.load_world(args.profile)
    users = world.split_users("test")[: args.users]
    user_prompts = list(prompts.build_prompts(world, users).values())
    shared: dict = {}

    def fallback_tokenizer():
        if "tok" not in shared:
            shared["tok"] = world_tokenizer(args.profile, world)
        return shared["tok"]

    rows = {}
    with generate.torch_threads(args.threads):
        for role, size in (("teacher", args.teacher), ("student", args.student)):
            model, tok, source = load_or_build(args.profile, size, world, args.random,
                                               fallback_tokenizer)
            shared.setdefault("tok", tok)
            speed = distill.serving_speed(model, tok, user_prompts, batch_size=args.batch_size,
                                          max_new_tokens=args.max_new_tokens)
            rows[role] = {"size": size, "source": source, "model": model, "tok": tok,
                          "params": model.num_parameters(), **speed}

        print(f"{len(user_prompts)} users, batch {args.batch_size}, at most "
              f"{args.max_new_tokens} new tokens, greedy, {args.threads} torch thread(s)")
        print(f"{'role':8} {'size':4} {'params':>10} {'users/s':>9} {'p50 s':>7} {'p95 s':>7} "
              f"{'tok/user':>8} {'paper users/s':>13}  source")
        for role, r in rows.items():
            print(f"{role:8} {r['size']:4} {r['params']:>10,} {r['users_per_second']:>9.1f} "
                  f"{r['p50_latency_s']:>7.3f} {r['p95_latency_s']:>7.3f} "
                  f"{r['mean_new_tokens']:>8.1f} {PAPER_USERS_PER_SECOND[role]:>13.0f}  "
                  f"{r['source']}")
        ratio = rows["student"]["users_per_second"] / rows["teacher"]["users_per_second"]
        paper = PAPER_USERS_PER_SECOND["student"] / PAPER_USERS_PER_SECOND["teacher"]
        size_ratio = rows["teacher"]["params"] / rows["student"]["params"]
        print(f"student / teacher throughput: {ratio:.1f}x (paper: {paper:.1f}x; "
              f"parameters: teacher {size_ratio:.1f}x the student here, 64x in the paper)")

        if args.distill_steps > 0:
            teacher, tok = rows["teacher"]["model"], rows["teacher"]["tok"]
            student = ladder.build_policy(args.student, tok, seed=1)
            started = time.perf_counter()
            _, history = distill.on_policy_distill(
                student, teacher, tok, user_prompts, steps=args.distill_steps, lr=1e-3,
                batch_size=8, max_completion_length=args.max_new_tokens, progress=False)
            seconds = time.perf_counter() - started
            step_times = [h["step_time"] for h in history if "step_time" in h]
            print(f"on-policy distillation {args.teacher} -> {args.student}, batch 8: "
                  f"{args.distill_steps / seconds:.2f} steps/s including setup, mean step "
                  f"{sum(step_times) / len(step_times):.3f} s "
                  f"(reverse KL {history[0].get('reverse_kl', float('nan')):.3f} -> "
                  f"{[h for h in history if 'reverse_kl' in h][-1]['reverse_kl']:.3f})")


if __name__ == "__main__":
    main()
