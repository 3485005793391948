"""A ladder size's SFT recipe in notebook 04's capacity regime, chosen on validation users.

Notebook 04 asks every size's warm start to pass 03's imitation bar (90% of its
demonstrations' Recall@10) and format bar (95% well-formed) on the shared validation
users. Where a size's ladder recipe falls short on 04's smaller training set, its SFT
epochs (and learning rate) are chosen here: each candidate is trained in 04's regime
(``capacity_train_users`` users, the size's ladder recipe otherwise), two single-thread
processes at a time, and its lists as served are scored on the validation users; the
winning values go into ``capacity_sft_epochs`` / ``capacity_sft_learning_rates`` of
``params/<profile>/04_scaling.yaml``. Test users are never read.

``--teacher`` tunes the teacher recipe of notebook 03 instead (``params/<profile>/
teacher.yaml``: its model, its ``n_train_users`` and its SFT settings; ``--size`` is
ignored): the winning values go into ``sft_epochs`` / ``sft_learning_rate`` there.

    python benchmarks/tune_capacity_sft.py --profile default --size m --epochs 6 8 10
    python benchmarks/tune_capacity_sft.py --profile default --teacher --epochs 3 4 5
"""

from __future__ import annotations

import argparse
import itertools
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from newsstudy import evaluation, params, protocol, teacher  # noqa: E402
from newsstudy.gates import FORMAT_BAR, IMITATION_BAR, imitation_gate  # noqa: E402
from newsstudy.scaling import capacity
from newsstudy.teacher import imitation
from newsstudy.world import data


def train_warm_start(notebook: str, values: dict, size: str | None = None,
                     regime: dict | None = None) -> str:
    """The SFT warm start (cached checkpoint folder) of ``values``' recipe, or of ladder
    size ``size`` in the capacity ``regime``. No reward scorer: SFT needs none."""
    settings = params.schema_for(notebook).model_validate(values)
    if size is not None:
        settings = capacity.size_settings(settings, size, regime)
    world = data.load_world(settings.profile)
    return str(teacher.PolicyPipeline(world, settings, None, log=lambda *a: None).prompt_only())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--size", default=None)
    parser.add_argument("--teacher", action="store_true",
                        help="tune notebook 03's teacher recipe instead of a ladder size")
    parser.add_argument("--epochs", type=int, nargs="+", required=True)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[None])
    args = parser.parse_args()
    from newsstudy.parallel import map_jobs

    P = params.load_params("04_scaling", args.profile)
    world = data.load_world(P.profile)
    val_users = protocol.val_users(world, P.seed, P.n_val_users)
    serving = protocol.serving(world, P)
    base = teacher.PolicyPipeline(world, P, None, log=lambda *a: None)
    demo_scores = imitation.demonstration_scores(world, serving, P, base.prompts(val_users),
                                                 val_users)
    demo_recall = demo_scores.groupby("user")["recall@10"].mean()
    grid = list(itertools.product(args.epochs, args.learning_rates))
    if args.teacher:
        recipe = params.load_params("03_grpo", args.profile)
        candidates = [recipe.model_copy(update={"sft_epochs": epochs, **(
            {"sft_learning_rate": lr} if lr is not None else {})}) for epochs, lr in grid]
        folders = map_jobs(train_warm_start, [("03_grpo", c.model_dump()) for c in candidates])
        pipes = [teacher.PolicyPipeline(world, c, None, log=lambda *a: None) for c in candidates]
        report(world, serving, P, val_users, demo_recall, f"teacher ({recipe.model})",
               [(e, pipe, folder) for (e, _), pipe, folder in zip(grid, pipes, folders,
                                                                  strict=True)])
        return
    if args.size is None:
        parser.error("--size is required without --teacher")
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
    pipes = [teacher.PolicyPipeline(world, capacity.size_settings(P, args.size, regime), None,
                                    log=lambda *a: None) for regime in regimes]
    report(world, serving, P, val_users, demo_recall, args.size,
           [(e, pipe, folder) for (e, _), pipe, folder in zip(grid, pipes, checkpoints,
                                                              strict=True)])


def report(world, serving, P, val_users, demo_recall, name: str, trained) -> None:
    """Print each candidate's imitation, well-formed share and held-out SFT loss on the
    validation users; ``trained``: ``(epochs, pipeline, checkpoint)`` per candidate."""
    print(f"{name}: {len(val_users)} validation users, demonstrations' R@10 "
          f"{demo_recall.mean():.4f} (bars: imitation {IMITATION_BAR:.0%}, format {FORMAT_BAR:.0%})")
    for epochs, pipe, checkpoint in trained:
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
