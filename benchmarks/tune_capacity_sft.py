"""A ladder size's SFT recipe in notebook 04's capacity regime, chosen on validation users.

Notebook 04 asks every size's warm start to pass 03's imitation bar (90% of its
demonstrations' Recall@10) and format bar (95% well-formed) on the shared validation
users. Where a size's ladder recipe falls short on 04's smaller training set, its SFT
epochs (and learning rate) are chosen here: each candidate is trained in 04's regime
(``capacity_train_users`` users, the size's ladder recipe otherwise), two single-thread
processes at a time, and its lists as served are scored on the validation users; the
winning values go into ``capacity_sft_epochs`` / ``capacity_sft_learning_rates`` of
``params/<profile>/04_scaling.yaml``. Test users are never read.

    python benchmarks/tune_capacity_sft.py --profile default --size m --epochs 6 8 10
"""

from __future__ import annotations

import argparse
import itertools
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from newsstudy import evaluation, params, protocol, teacher  # noqa: E402
from newsstudy.gates import FORMAT_BAR, IMITATION_BAR, imitation_gate  # noqa: E402
from newsstudy.rewards import RewardScorer  # noqa: E402
from newsstudy.scaling import capacity
from newsstudy.teacher import imitation
from newsstudy.world import data


def train_warm_start(notebook: str, values: dict, size: str, regime: dict) -> str:
    """The size's SFT warm start in the given regime (cached checkpoint folder)."""
    settings = params.schema_for(notebook).model_validate(values)
    world = data.load_world(settings.profile)
    pipe = teacher.PolicyPipeline(world, capacity.size_settings(settings, size, regime),
                                  RewardScorer.from_settings(world, settings), log=lambda *a: None)
    return str(pipe.prompt_only())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--size", required=True)
    parser.add_argument("--epochs", type=int, nargs="+", required=True)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[None])
    args = parser.parse_args()
    from newsstudy.parallel import map_jobs

    P = params.load_params("04_scaling", args.profile)
    world = data.load_world(P.profile)
    val_users = protocol.val_users(world, P.seed, P.n_val_users)
    serving = protocol.serving(world, P)
    scorer = RewardScorer.from_settings(world, P)
    base = teacher.PolicyPipeline(world, P, scorer, log=lambda *a: None)
    demo_scores = imitation.demonstration_scores(world, serving, P, base.prompts(val_users),
                                                 val_users)
    demo_recall = demo_scores.groupby("user")["recall@10"].mean()
    grid = list(itertools.product(args.epochs, args.learning_rates))
    regimes = []
    for epochs, lr in grid:
        regime = {name: getattr(P, name) for name in capacity.REGIME_FIELDS}
        regime["capacity_sft_epochs"] = {**regime["capacity_sft_epochs"], args.size: epochs}
        if lr is not None:
            regime["capacity_sft_learning_rates"] = {**regime["capacity_sft_learning_rates"],
                                                     args.size: lr}
        regimes.append(regime)
    checkpoints = map_jobs(train_warm_start, [("04_scaling", P.model_dump(), args.size, regime)
                                              for regime in regimes])
    print(f"{args.size}: {len(val_users)} validation users, demonstrations' R@10 "
          f"{demo_recall.mean():.4f} (bars: imitation {IMITATION_BAR:.0%}, format {FORMAT_BAR:.0%})")
    for (epochs, _), regime, checkpoint in zip(grid, regimes, checkpoints, strict=True):
        pipe = teacher.PolicyPipeline(world, capacity.size_settings(P, args.size, regime), scorer,
                                      log=lambda *a: None)
        frame, lists = evaluation.evaluate_policy(world, serving, pipe.policy(checkpoint, seed=P.seed),
                                                  val_users, fusion=P.fusion)
        gate = imitation_gate(frame["recall@10"], demo_recall)
        loss = capacity.validation_loss(pipe, checkpoint, val_users)
        print(f"epochs {epochs:>3} lr {pipe.settings.sft_learning_rate:<7g} imitation "
              f"{gate.ratio:.1%} (paired gap {gate.paired.diff:+.4f} [{gate.paired.low:+.4f}, "
              f"{gate.paired.high:+.4f}])  well-formed {imitation.well_formed(lists):.1%}  "
              f"held-out SFT loss {loss:.3f}", flush=True)


if __name__ == "__main__":
    main()
