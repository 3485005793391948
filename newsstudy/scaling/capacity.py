"""The capacity study of notebook 04: one ladder size trained, checked and measured.

Every size runs the same recipe: the profile's teacher recipe (prompt, demonstrations,
decoding, rewards, GRPO steps and group size) on ``capacity_train_users`` training users
and ``capacity_grpo_steps`` Dr.GRPO steps, with the size's own SFT epochs and learning
rates from ``capacity_sft_epochs``, ``capacity_sft_learning_rates`` and
``capacity_grpo_learning_rates`` (:func:`size_settings`; the schema holds every size's
value, a profile changes those of the sizes it names, chosen on validation users against
the imitation and format bars).

:func:`measure_size` is one job of the study, run in its own single-thread process
(:func:`newsstudy.parallel.map_jobs`): it trains (or loads from the checkpoint cache) the
size's SFT warm start and its Dr.GRPO policy, then measures, with the shared protocol
(:mod:`newsstudy.protocol`):

- on validation users: the warm start's lists as served (for the imitation and format
  checks) and its held-out SFT loss on the validation users' demonstrations;
- on the evaluation (test) users: the GRPO policy's lists as served, their Recall@10 /
  NDCG@10 and their composite reward;
- on the first ``n_best_of_n_users`` of them: ``max(sizes_best_of_n)`` sampled lists per
  user, each scored by the reward and by retrieval (the compute frontier).

It returns plain records, so the notebook assembles every table from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from newsstudy import evaluation, protocol, scaling, teacher
from newsstudy.parallel import Task
from newsstudy.policy import checkpoints, ladder, sft
from newsstudy.rewards import RewardScorer
from newsstudy.teacher.imitation import well_formed
from newsstudy.world import data

MEASURES = ("validation", "test", "frontier")
"""The measurements :func:`measure_size` takes of a trained size: ``validation`` reads
only the SFT warm start, ``test`` and ``frontier`` the Dr.GRPO policy."""

REGIME_FIELDS = ("capacity_train_users", "capacity_grpo_steps", "capacity_sft_epochs",
                 "capacity_sft_learning_rates", "capacity_grpo_learning_rates")
"""04's fields that set how every size is trained: the capacity regime."""


def regime_of(profile: str) -> dict:
    """The capacity regime of a profile, from its ``params/<profile>/04_scaling.yaml``.

    Notebook 05 trains its student in this regime, so that the student sees the same
    users and GRPO steps as the teacher 04 trained.
    """
    from newsstudy.params import load_params

    scaling = load_params("04_scaling", profile)
    return {name: getattr(scaling, name) for name in REGIME_FIELDS}


def size_settings(settings, size: str, regime: Mapping | None = None):
    """The capacity study's settings for one size (see the module doc).

    ``regime`` (:data:`REGIME_FIELDS`) defaults to the fields of ``settings`` (04's own).
    The SFT imitation curve (a diagnostic of 03, stored with the warm start) is not drawn:
    04 checks each warm start's finished lists instead.
    """
    regime = {name: getattr(settings, name) for name in REGIME_FIELDS} if regime is None \
        else dict(regime)
    ladder.ladder_size(size)  # a ValueError naming the sizes if it is none
    return settings.model_copy(update={
        "model": size, "n_train_users": regime["capacity_train_users"],
        "grpo_steps": regime["capacity_grpo_steps"], "imitation_curve_users": 0,
        "sft_epochs": regime["capacity_sft_epochs"][size],
        "sft_learning_rate": regime["capacity_sft_learning_rates"][size],
        "grpo_learning_rate": regime["capacity_grpo_learning_rates"][size]})


def trained_tokens(checkpoint) -> float:
    """Tokens the trainer processed for one checkpoint (its last logged running count)."""
    counts = [h["num_tokens"] for h in teacher.log_history(checkpoint) if "num_tokens" in h]
    return float(counts[-1]) if counts else 0.0


def validation_loss(pipe, checkpoint, users: Sequence[int]) -> float:
    """Held-out SFT loss of a checkpoint on the validation users' demonstrations."""
    pairs = pipe.demonstration_pairs(users, well_formed_only=False)
    model, tok, _ = checkpoints.PolicyStore.load(checkpoint)
    return sft.completion_loss(model, tok, [p for p, _ in pairs], [d for _, d in pairs])


def _records(frame) -> list[dict]:
    return frame.rename_axis("user").reset_index().to_dict(orient="records")


def train_size(P, size: str, stage: str = "policy") -> str:
    """Train (or load from the checkpoint cache) one size's SFT warm start
    (``stage="warm start"``) or its Dr.GRPO policy (``"policy"``, after the warm start);
    the checkpoint's path. ``P``: 04's validated settings."""
    if stage not in ("warm start", "policy"):
        raise ValueError(f"stage must be 'warm start' or 'policy', got {stage!r}")
    world = data.load_world(P.profile)
    if stage == "warm start":  # SFT needs no reward scorer
        pipe = teacher.PolicyPipeline(world, size_settings(P, size), None, log=lambda *a: None)
        return str(pipe.prompt_only())
    scorer = RewardScorer.from_settings(world, P)
    pipe = teacher.PolicyPipeline(world, size_settings(P, size), scorer, log=lambda *a: None)
    return str(pipe.teacher(P.seed, scorer.weights))


def measure_size(P, size: str, eval_users: list[int],
                 val_users: list[int], frontier_users: list[int], frontier_n: int,
                 parts: Sequence[str] = MEASURES) -> dict:
    """Train (or load) one size and measure it; see the module doc. Plain data out.

    ``parts`` names the measurements to take (:data:`MEASURES`): ``validation`` (the warm
    start's lists as served on validation users and its held-out SFT loss), ``test`` (the
    policy's lists as served on test users, their rewards, the training cost) and
    ``frontier`` (sampled lists on ``frontier_users``). Taken as separate tasks once the
    size is trained (:func:`size_tasks`), their records merge into the one of all parts;
    ``validation`` alone trains no policy. ``P``: 04's validated settings.
    """
    unknown = sorted(set(parts) - set(MEASURES))
    if unknown:
        raise ValueError(f"unknown measurements {unknown}; known: {list(MEASURES)}")
    world = data.load_world(P.profile)
    needs_policy = bool({"test", "frontier"} & set(parts))
    scorer = RewardScorer.from_settings(world, P) if needs_policy else None
    serving = protocol.serving(world, P)
    pipe = teacher.PolicyPipeline(world, size_settings(P, size), scorer, log=lambda *a: None)
    warm = pipe.prompt_only()
    policy = pipe.teacher(P.seed, scorer.weights) if needs_policy else None
    tok = pipe.tokenizer()
    record: dict = {"size": size, "params": ladder.parameter_count(size, len(tok))}
    if "validation" in parts:
        val_frame, val_lists = evaluation.evaluate_policy(
            world, serving, pipe.policy(warm, seed=P.seed), val_users, fusion=P.fusion)
        record.update({
            "warm_start": str(warm),
            "sft_epochs": pipe.settings.sft_epochs,
            "sft_learning_rate": pipe.settings.sft_learning_rate,
            "val_loss": validation_loss(pipe, warm, val_users),
            "val": _records(val_frame),
            "val_well_formed": well_formed(val_lists),
        })
    if "test" in parts:
        test_frame, test_lists = evaluation.evaluate_policy(
            world, serving, pipe.policy(policy, seed=P.seed), eval_users, fusion=P.fusion)
        users = [int(u) for u in test_frame.index]
        rewards = scorer.score(users, [test_lists[u] for u in users])
        test_frame = test_frame.assign(reward=rewards["total"].to_numpy())
        record.update({
            "checkpoint": str(policy),
            "train_flops": scaling.training_flops(record["params"], trained_tokens(warm)
                                                  + trained_tokens(policy)),
            "train_seconds": teacher.training_seconds(warm) + teacher.training_seconds(policy),
            "grpo_learning_rate": pipe.settings.grpo_learning_rate,
            "test": _records(test_frame),
            "test_well_formed": well_formed(test_lists),
        })
    if "frontier" in parts:
        drawn = pipe.complete(policy, frontier_users, n_samples=frontier_n,
                              temperature=P.sample_temperature, seed=P.seed, return_counts=True)
        samples = {u: texts for u, (texts, _) in drawn.items()}
        scored = scaling.score_samples(world, serving, scorer, samples, fusion=P.fusion)
        prompt_texts = list(pipe.prompts(frontier_users).values())
        prompt_tokens = float(np.mean([len(ids) for ids in tok(
            prompt_texts, add_special_tokens=False)["input_ids"]]))
        record.update({
            "samples": scored.to_dict(orient="records"),
            "generated_tokens_per_list": float(np.mean([np.mean(c) for _, c in drawn.values()])),
            "prompt_tokens": prompt_tokens,
        })
    return record


def sample_teacher(P, users: list[int], n_samples: int) -> dict:
    """``n_samples`` lists per user from 03's RL teacher (its first seed), at the sampling
    temperature, with their token counts (:meth:`PolicyPipeline.complete`); ``P``: 04's
    validated settings."""
    world = data.load_world(P.profile)
    scorer = RewardScorer.from_settings(world, P)
    pipe = teacher.PolicyPipeline(world, P, scorer, log=lambda *a: None)
    return pipe.complete(pipe.teacher(P.seed, scorer.weights), users, n_samples=n_samples,
                         temperature=P.sample_temperature, seed=P.seed, return_counts=True)


def size_tasks(settings, eval_users, val_users, frontier_users,
               frontier_n: int) -> dict[str, Task]:
    """The tasks of the capacity study (:func:`newsstudy.parallel.run_tasks`), largest size
    first. The largest size trains longest and is the chain every other task waits on, so
    it is split: its warm start, then its policy, and each of its measurements (the
    validation one once the warm start is trained, the others once the policy is), each
    taken by the next free worker ahead of the other sizes. Every other size is one task
    that trains and measures it."""
    order = sorted(settings.sizes, key=lambda s: -ladder.parameter_count(s, settings.vocab_size))
    common = (eval_users, val_users, frontier_users, frontier_n)
    largest = order[0]
    warm, trained = f"train {largest} warm start", f"train {largest}"
    tasks = {warm: Task(train_size, (settings, largest, "warm start")),
             trained: Task(train_size, (settings, largest, "policy"), needs=(warm,))}
    for part in MEASURES:
        tasks[f"{largest} {part}"] = Task(measure_size, (settings, largest, *common, (part,)),
                                          needs=(warm if part == "validation" else trained,))
    for size in order[1:]:
        tasks[size] = Task(measure_size, (settings, size, *common))
    return tasks


def size_records(results: Mapping[str, object], sizes: Sequence[str]) -> list[dict]:
    """One record per size from :func:`size_tasks`' results (a size measured in parts gets
    its parts merged), smallest first."""
    records = []
    for size in sizes:
        if size in results:
            records.append(results[size])
        else:
            merged: dict = {}
            for part in MEASURES:
                merged.update(results[f"{size} {part}"])
            records.append(merged)
    return sorted(records, key=lambda r: r["params"])
