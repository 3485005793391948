"""Benchmark: how fast the simulator builds users and their events.

Prints users simulated per second and the wall time for ``--users`` users (budget:
100,000 users within 60 s on 2 cores). Topics come from random article embeddings so that
the figure measures the simulator alone.

    python benchmarks/bench_world.py --users 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from newsstudy import world
from newsstudy.params import load_params
from newsstudy.world import corpus, data, topics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events-per-day", type=float, default=3.0)
    parser.add_argument("--history-days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    articles = corpus.load_articles()
    vectors = np.random.default_rng(args.seed).normal(size=(len(articles), 32)).astype(np.float32)
    topic_model = topics.build_topics(articles, vectors, n_topics=30, seed=args.seed)
    started = time.perf_counter()
    sim = world.simulate_world(
        articles, topic_model, n_users=args.users, history_days=args.history_days, test_days=10,
        events_per_day=args.events_per_day, noise_rate=0.2, cold_share=0.2, min_interests=2,
        max_interests=4, terms_per_interest=4, val_share=0.1, test_share=0.1, seed=args.seed,
        constants=data.world_constants(load_params("01_data", "default")))
    seconds = time.perf_counter() - started
    print(f"users simulated: {args.users}")
    print(f"history events: {len(sim.events)}")
    print(f"held-out clicks: {len(sim.test_clicks)}")
    print(f"wall time: {seconds:.1f} s (budget 60 s for 100,000 users)")
    print(f"users per second: {args.users / seconds:,.0f}")
    print(f"events per second: {len(sim.events) / seconds:,.0f}")


if __name__ == "__main__":
    main()
