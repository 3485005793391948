"""The gap between R_align as the rewards compute it and as the serving path would.

R_align scores a list by the cosine of each query to its top-10 hits. The rewards embed
with the fast static embedder (GRPO scores thousands of lists a step); the serving path
embeds with MiniLM. This prints, over the reference strategies' lists for a sample of
validation users, R_align in both spaces (same history-window index), their per-list
Spearman correlation, and whether the two rank the strategies the same way.

    python benchmarks/bench_align_gap.py --profile default --users 150
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from newsstudy import embed, strategies  # noqa: E402
from newsstudy.index import NewsIndex  # noqa: E402
from newsstudy.output_format import parse_completion  # noqa: E402
from newsstudy.retrieval import Retriever  # noqa: E402
from newsstudy.rewards import alignment  # noqa: E402
from newsstudy.world import data


def align_scores(world, backend: str, lists: list[list[str]]) -> np.ndarray:
    """R_align of each query list in ``backend``'s space (history-window index, k=10)."""
    index = NewsIndex.from_world(world, which="history", backend=backend, kind="exact")
    retriever = Retriever(index, backend, k_per_query=10)
    return np.array([alignment(*hits) for hits in retriever.hits_for_lists(lists)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--users", type=int, default=150)
    args = parser.parse_args()
    world = data.load_world(args.profile)
    ctx = strategies.StrategyContext(world, embed.get_embedder("static"), 5, 0)
    users = np.random.default_rng(0).permutation(world.split_users("val"))[: args.users]
    rows = []
    every = {**strategies.STRATEGIES, **{f"hack: {k}": v for k, v in strategies.HACKS.items()}}
    for name, strategy in every.items():
        for user, text in strategies.completions_for(ctx, strategy, users).items():
            rows.append({"strategy": name, "user": user,
                         "queries": list(parse_completion(text).queries)})
    frame = pd.DataFrame(rows)
    for backend in ("static", "minilm"):
        frame[backend] = align_scores(world, backend, frame["queries"].tolist())
    per_strategy = frame.groupby("strategy")[["static", "minilm"]].mean()
    print(per_strategy.sort_values("minilm", ascending=False).round(3).to_string())
    print(f"lists: {len(frame)}; per-list Spearman(static, minilm) = "
          f"{spearmanr(frame['static'], frame['minilm']).statistic:.3f}; "
          f"strategy-rank Spearman = "
          f"{spearmanr(per_strategy['static'], per_strategy['minilm']).statistic:.3f}")


if __name__ == "__main__":
    main()
