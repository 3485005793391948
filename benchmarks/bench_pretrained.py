"""Benchmark: SmolLM2-135M-Instruct on this CPU: conversion, load, generation, one LoRA step.

Prints the one-time GGUF conversion time (from the cache's record), the load time of the
converted folder, generation speed in new tokens/s (greedy, chat prompts of the profile's
world, batch 1 and a batch of ``--batch`` prompts) and, with ``--grpo``, the wall time of
one LoRA Dr.GRPO step (1 user, 2 generations, ``--completion`` tokens) on a toy reward.

    python benchmarks/bench_pretrained.py --profile default --threads 1 2 --grpo
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from newsstudy import rewards
from newsstudy.index import NewsIndex
from newsstudy.policy import generate, pretrained, prompts
from newsstudy.retrieval import Retriever
from newsstudy.rewards import judge
from newsstudy.teacher import grpo
from newsstudy.world import data

NAME = "smollm2-135m-instruct"


class WordHashEmbedder:
    """A toy embedder (hashed bag of words) so the LoRA step's reward costs nothing."""

    name = "toy"
    dim = 32

    def encode(self, texts, show_progress=False):
        out = np.zeros((len(texts), 32), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in str(text).lower().split():
                out[row, sum(map(ord, word)) % 32] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def toy_scorer(world) -> rewards.RewardScorer:
    embedder = WordHashEmbedder()
    titles = world.articles["title"].tolist()[:500]
    vectors = embedder.encode(titles)
    retriever = Retriever(NewsIndex(np.arange(len(titles)), vectors), embedder, k_per_query=10)
    rubric = judge.RubricJudge.fit(vectors, titles, embedder, n_clusters=8, seed=0)
    return rewards.RewardScorer(retriever, rubric)


def generation_speed(model, tokenizer, texts, new_tokens: int) -> tuple[float, int]:
    start = time.perf_counter()
    _, counts = generate.sample_completions(model, tokenizer, texts, greedy=True,
                                            max_new_tokens=new_tokens, batch_size=len(texts),
                                            progress=False, return_counts=True)
    seconds = time.perf_counter() - start
    tokens = sum(c for row in counts for c in row)
    return tokens / seconds, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch threads to time generation with (GRPO uses the first)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--grpo", action="store_true", help="also time one LoRA GRPO step")
    parser.add_argument("--completion", type=int, default=32, help="GRPO completion tokens")
    args = parser.parse_args()

    start = time.perf_counter()
    pretrained.convert(NAME)
    record = pretrained.conversion_record(NAME)
    print(f"conversion (one-time, cached): {record['convert_seconds']:.1f} s "
          f"(this call {time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    model, tokenizer = pretrained.load_pretrained(NAME)
    print(f"load converted folder: {time.perf_counter() - start:.2f} s, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, {model.dtype}")

    world = data.load_world(args.profile)
    users = [int(u) for u in world.split_users("test")[: args.batch]]
    chat = prompts.build_prompts(world, users, chat=True, tokenizer=tokenizer, bos="")
    texts = [chat[u] for u in users]
    prompt_tokens = np.mean([len(tokenizer(t)["input_ids"]) for t in texts])
    print(f"prompts: {len(texts)} chat prompts, {prompt_tokens:.0f} tokens on average")
    generation_speed(model, tokenizer, texts[:1], 4)  # warm-up
    for threads in args.threads:
        with generate.torch_threads(threads):
            for batch in (texts[:1], texts):
                rate, tokens = generation_speed(model, tokenizer, batch, args.new_tokens)
                print(f"generation, {threads} thread(s), batch {len(batch)}: {rate:.1f} "
                      f"new tokens/s ({tokens} tokens)")
    with generate.torch_threads(args.threads[0]):
        if args.grpo:
            from peft import LoraConfig

            settings = grpo.GRPOSettings(steps=1, users_per_step=1, num_generations=2,
                                         learning_rate=1e-4, beta=0.0, temperature=1.0,
                                         top_p=1.0, duplicate_guard=True,
                                         max_completion_length=args.completion, seed=0)
            lora = LoraConfig(r=8, lora_alpha=16, task_type="CAUSAL_LM",
                              target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                grpo.train_grpo(model, tokenizer, toy_scorer(world), {users[0]: texts[0]},
                                settings, rewards.RewardWeights(), tmp, progress=False,
                                peft_config=lora)
            print(f"one LoRA GRPO step (1 user x 2 generations x {args.completion} tokens): "
                  f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
