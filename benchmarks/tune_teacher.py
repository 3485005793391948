"""Tune the two RL teachers of notebook 03 with the same effort, on validation users only.

Each variant is the default recipe (``params/default/teacher.yaml``) with some Dr.GRPO
settings changed, trained from the recipe's warm start with one reward (the paper's five,
or the verifiable retrieval reward), two runs at a time, into a separate artifact store
(``--store``, default ``tune``) so the profile's own cache is untouched. Each trained
policy writes ``--lists`` lists per validation user (the first ``--users``, sorted; the
test users are never read), and the table gives, per variant, its validation Recall@10
minus the warm start's (paired over users, 95% interval), its mean reward gain on what it
optimises, its largest per-step KL and its training time. The grid is the same for both
rewards, so neither is tuned harder than the other.

    python benchmarks/tune_teacher.py                       # the grid below, both rewards
    python benchmarks/tune_teacher.py --reward verifiable --grid lr=0.001,0.003,0.01
    python benchmarks/tune_teacher.py --csv docs/teacher_tuning.csv

The committed recipe's choices, and the grid they were chosen from, are in
``docs/teacher_tuning.md`` (written by ``--markdown``).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAMES = {"lr": "learning_rate", "beta": "beta", "steps": "grpo_steps",
         "users": "users_per_step", "G": "num_generations"}
DEFAULT_GRID = {"lr": [0.001, 0.003, 0.01], "beta": [0.0, 0.04], "steps": [100, 300]}


def parse_grid(text: str | None) -> dict[str, list]:
    """``lr=0.001,0.003;steps=100,300`` -> ``{"lr": [0.001, 0.003], "steps": [100, 300]}``."""
    if not text:
        return dict(DEFAULT_GRID)
    grid = {}
    for part in text.split(";"):
        key, values = part.split("=")
        if key not in NAMES:
            raise SystemExit(f"unknown grid key {key!r} (known: {', '.join(NAMES)})")
        grid[key] = [float(v) if key in ("lr", "beta") else int(v) for v in values.split(",")]
    return grid


def variant_settings(base, reward: str, values: dict):
    """The recipe with one variant's Dr.GRPO values, for ``reward``."""
    update = {}
    for key, value in values.items():
        if key == "lr":
            update["verifiable_learning_rate" if reward == "verifiable" else "grpo_learning_rate"] = value
        elif key == "beta":
            update["verifiable_beta" if reward == "verifiable" else "beta"] = value
        else:
            update[NAMES[key]] = value
    return base.model_copy(update=update)


def main() -> None:
    from newsstudy import evaluation, params, paths, teacher
    from newsstudy.parallel import map_jobs
    from newsstudy.rewards import RewardScorer
    from newsstudy.teacher import grpo
    from newsstudy.world import data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reward", choices=["paper", "verifiable", "both"], default="both")
    parser.add_argument("--grid", default=None, help="e.g. 'lr=0.001,0.003;steps=100,300'")
    parser.add_argument("--users", type=int, default=400, help="validation users scored")
    parser.add_argument("--lists", type=int, default=4, help="lists per validation user")
    parser.add_argument("--store", default="tune", help="artifact store (profile name)")
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    grid = parse_grid(args.grid)
    rewards = ["paper", "verifiable"] if args.reward == "both" else [args.reward]
    base = params.load_params("03_grpo", "default").model_copy(update={"profile": args.store})
    world = data.load_world("default")
    own = paths.world_dir(args.store)  # the store reads the default world
    if not own.exists():
        own.parent.mkdir(parents=True, exist_ok=True)
        own.symlink_to(paths.world_dir("default").resolve(), target_is_directory=True)
    serving = evaluation.serving_retriever(world, base.serving_embedder, base.index_kind,
                                           k_per_query=base.k_per_query)
    val = np.sort(world.split_users("val"))[: args.users]
    keys = list(grid)
    variants = [(reward, dict(zip(keys, combo, strict=True)))
                for reward in rewards for combo in itertools.product(*grid.values())]
    started = time.perf_counter()
    warm = teacher.PolicyPipeline(world, base, None)
    warm.prompt_only()  # the shared warm start, trained once before the variants
    map_jobs(teacher.train_job, [(variant_settings(base, r, v), base.model, base.seed, None,
                                  None, r) for r, v in variants])
    print(f"trained {len(variants)} variants in {(time.perf_counter() - started) / 60:.1f} min",
          flush=True)

    def recall(pipe, checkpoint) -> pd.Series:
        lists = pipe.complete(checkpoint, val, n_samples=args.lists, seed=base.seed + 11)
        frames = [evaluation.evaluate_completions(
            world, serving, {u: texts[j] for u, texts in lists.items()}, fusion=base.fusion)
            ["recall@10"] for j in range(args.lists)]
        return pd.concat(frames, axis=1).mean(axis=1)

    before = recall(warm, warm.prompt_only())
    rows = []
    scorer = RewardScorer.from_settings(world, base) if "paper" in rewards else None
    for reward, values in variants:
        settings = variant_settings(base, reward, values)
        pipe = teacher.PolicyPipeline(world, settings, scorer)
        checkpoint = pipe.teacher(base.seed, reward=reward)
        gain = evaluation.paired_difference(recall(pipe, checkpoint), before)
        curves = grpo.training_curves(teacher.log_history(checkpoint))
        rows.append({"reward": reward, **values, "val R@10": gain.mean_a, "gain": gain.diff,
                     "low": gain.low, "high": gain.high, "n": gain.n,
                     "first reward": curves["total reward"].head(10).mean(),
                     "last reward": curves["total reward"].tail(10).mean(),
                     "max KL": curves["kl"].max() if "kl" in curves else float("nan"),
                     "entropy last": curves["entropy"].tail(10).mean(),
                     "minutes": teacher.training_seconds(checkpoint) / 60})
        print(pd.DataFrame(rows[-1:]).round(4).to_string(index=False, header=len(rows) == 1),
              flush=True)
    table = pd.DataFrame(rows)
    print(f"\nwarm start: validation R@10 {before.mean():.4f} (n = {len(before)}, "
          f"{args.lists} lists each)\n")
    print(table.round(4).to_string(index=False))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
    if args.markdown:
        args.markdown.write_text(table.round(4).to_markdown(index=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
