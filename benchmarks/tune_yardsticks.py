"""The reference strategies' settings, chosen on validation users.

The legal inference strategy and the oracle (``newsstudy.world.strategies``) are yardsticks of
the world's gates (notebooks 02 and 03b). Their few settings are chosen here, on the
validation users of a profile's world and under the serving path notebook 02 chose
(its ``fusion`` and ``k_per_query`` parameters); test users are never read. Prints
Recall@10 per setting; the module constants of ``newsstudy.world.strategies`` hold the winners.

    python benchmarks/tune_yardsticks.py --profile default
"""

from __future__ import annotations

import argparse
import functools
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from newsstudy import embed, evaluation, params, strategies  # noqa: E402
from newsstudy.world import data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    settings = params.load_params("02_rewards", args.profile)
    world = data.load_world(args.profile)
    ctx = strategies.StrategyContext(world, embed.get_embedder(settings.reward_embedder),
                                     settings.n_queries, settings.seed)
    users = world.split_users("val")
    serving = evaluation.serving_retriever(world, settings.serving_embedder,
                                           settings.index_kind, settings.k_per_query)
    variants = {"copy": strategies.copy}
    for keywords in (0, 1):
        for words in (2, 3):
            for halflife in (7.0, 14.0, 1e9):
                variants[f"infer keywords={keywords} words={words} halflife={halflife:g}"] = (
                    functools.partial(strategies.infer, keywords=keywords, n_words=words,
                                      halflife_days=halflife))
    for keywords in (0, 1, 2):
        for words in (2, 3, 4):
            variants[f"oracle keywords={keywords} words={words}"] = functools.partial(
                strategies.oracle, keywords=keywords, n_words=words)
    started = time.perf_counter()
    print(f"{len(users)} validation users; serving {settings.fusion}, "
          f"k_per_query {settings.k_per_query}")
    for name, strategy in variants.items():
        lists = strategies.completions_for(ctx, strategy, users).to_dict()
        recall = evaluation.evaluate_completions(world, serving, lists, fusion=settings.fusion)
        print(f"{name:45s} R@10 {recall['recall@10'].mean():.4f}  "
              f"({time.perf_counter() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
