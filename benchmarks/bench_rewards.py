"""Benchmark: reward scoring throughput (query lists per second) on a built world.

Scores ``--lists`` completions of ``--queries`` queries each (written by the reference
strategies for the world's users) with all five rewards, with the chosen reward embedder.
The query-embedding cache is cleared first and the lists are all distinct, so the figure
includes embedding. Budget: at least 1,000 lists/s with the fast (static) embedder.

    python benchmarks/bench_rewards.py --profile default --embedder static
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from newsstudy import embed, rewards
from newsstudy.world import data, strategies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--embedder", default="static", choices=["static", "minilm"])
    parser.add_argument("--lists", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    world = data.load_world(args.profile)
    embedder = embed.get_embedder(args.embedder)
    started = time.perf_counter()
    scorer = rewards.RewardScorer.from_world(world, embedder, n_judge_clusters=24, seed=args.seed)
    setup = time.perf_counter() - started
    ctx = strategies.StrategyContext(world, embedder, args.queries, args.seed)
    rng = np.random.default_rng(args.seed)
    users = rng.choice(world.users["user_id"].to_numpy(), size=args.lists)
    writers = [strategies.copy, strategies.random_words, strategies.oracle, strategies.hack_spec]
    completions = [writers[i % len(writers)](ctx, int(u)) for i, u in enumerate(users)]
    embedder.clear()
    started = time.perf_counter()
    frame = scorer.score(list(users), completions)
    seconds = time.perf_counter() - started
    print(f"reward embedder: {args.embedder}")
    print(f"scorer set-up (index, judge, interests of {len(world.users)} users): {setup:.1f} s")
    print(f"lists scored: {len(frame)} ({frame['n_queries'].mean():.1f} queries each)")
    print(f"lists per second: {len(frame) / seconds:,.0f} (budget 1,000)")


if __name__ == "__main__":
    main()
