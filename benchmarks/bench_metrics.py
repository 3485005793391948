"""Micro benchmark: per-user evaluation throughput of ``newsstudy.metrics``.

Times ``evaluate_user`` (default metrics: R@5, R@10, N@5, N@10, MRR) on random users
with ``--items``-long rankings over a ``--corpus``-sized id space, and
``evaluate_users`` on the same users, and prints one line per figure::

    .venv/bin/python benchmarks/bench_metrics.py --users 20000 --items 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from newsstudy.metrics import DEFAULT_METRICS, evaluate_user, evaluate_users


def make_users(
    n_users: int, n_items: int, corpus: int, n_relevant: int, seed: int
) -> tuple[dict[int, list[int]], dict[int, set[int]]]:
    """Random rankings (``n_items`` distinct ids) and relevant sets, one per user."""
    rng = np.random.default_rng(seed)
    rankings, truth = {}, {}
    for user in range(n_users):
        rankings[user] = rng.choice(corpus, size=n_items, replace=False).tolist()
        truth[user] = set(rng.choice(corpus, size=n_relevant, replace=False).tolist())
    return rankings, truth


def best_rate(fn, n_users: int, repeats: int) -> float:
    """Best users/s over ``repeats`` timed calls of ``fn``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_users / best


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run both timings, print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000, help="users per timed pass")
    parser.add_argument("--items", type=int, default=100, help="ranking length per user")
    parser.add_argument("--corpus", type=int, default=3_800, help="size of the id space")
    parser.add_argument("--relevant", type=int, default=5, help="relevant ids per user")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; best is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rankings, truth = make_users(args.users, args.items, args.corpus, args.relevant, args.seed)
    users = list(truth)

    def per_user() -> None:
        for user in users:
            evaluate_user(rankings[user], truth[user], DEFAULT_METRICS)

    def batch() -> None:
        evaluate_users(rankings, truth, DEFAULT_METRICS)

    metrics = ",".join(DEFAULT_METRICS)
    setup = f"items={args.items} users={args.users} metrics={metrics}"
    rate = best_rate(per_user, args.users, args.repeats)
    print(f"evaluate_user  {rate:,.0f} users/s ({setup})")
    rate = best_rate(batch, args.users, args.repeats)
    print(f"evaluate_users {rate:,.0f} users/s ({setup})")


if __name__ == "__main__":
    main()
