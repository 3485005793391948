"""Benchmark: how fast the A/B simulator runs its day loop (policy generation excluded).

Prints user-days simulated per second and per minute (budget: at least 1,000,000
user-days per minute on 2 cores) for a 50/50 test in which the treatment arm has the
``query`` recall path: every treated user holds ``--queries`` query vectors that are
searched each day in an ANN index of the day's articles, as in notebook 06. By default
the market is synthetic, shaped like the default A/B world (100,000 users, 3,650
articles over 100 days, 30 topics), with random unit query and article vectors, so no
world or policy is needed; ``--world <profile>-ab`` uses a built A/B world instead.

    python benchmarks/bench_ab.py --users 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from newsstudy.ab import market as ab_market
from newsstudy.ab import simulate, treatment
from newsstudy.embed import EMBEDDING_DIM


def random_unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=3650)
    parser.add_argument("--topics", type=int, default=30)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--queries", type=int, default=5, help="queries per treated user")
    parser.add_argument("--world", default=None, help="an A/B world profile, e.g. default-ab")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    if args.world:
        from newsstudy.world import data

        market = ab_market.Market.from_world(data.load_world(args.world))
    else:
        market = ab_market.synthetic_market(n_users=args.users, n_articles=args.articles,
                                           n_topics=args.topics, days=args.days, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    treated = simulate.assign_arms(market.n_users, args.seed)
    rows = np.flatnonzero(treated)
    lists = [[f"user {u} query {j}" for j in range(args.queries)] for u in rows]
    path = treatment.QueryPath(
        rows, lists, random_unit(rng, market.n_articles, EMBEDDING_DIM),
        index_kind="exact", k_per_query=10, max_queries=8, query_vectors=random_unit(rng, len(rows) * args.queries, EMBEDDING_DIM))
    setup = time.perf_counter() - started

    started = time.perf_counter()
    outcome = simulate.simulate(market, treated, args.days, args.seed, treatment_path=path)
    seconds = time.perf_counter() - started
    user_days = market.n_users * args.days
    visits = int(outcome.visits.sum())
    print(f"users: {market.n_users:,}  articles: {market.n_articles:,}  days: {args.days}")
    print(f"articles on offer per day: {[len(market.pool(d)) for d in range(args.days)]}")
    print(f"visits (feeds served): {visits:,}  treated users' queries: {len(rows) * args.queries:,}")
    print(f"setup (market, path): {setup:.1f} s")
    print(f"simulation wall time: {seconds:.1f} s")
    print(f"user-days per second: {user_days / seconds:,.0f}")
    print(f"user-days per minute: {60 * user_days / seconds:,.0f} (budget 1,000,000)")


if __name__ == "__main__":
    main()
