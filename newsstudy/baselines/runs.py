"""Run every baseline over seeds: one row per (method, seed, test user).

``run_baselines`` returns the shared protocol's metrics and ``is_cold`` per row;
deterministic baselines (popularity, content) run once. ``run_baselines_in_parallel``
spreads the (method, seed) jobs over worker processes, one torch thread each, with the
serial run's values.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict

import pandas as pd

from newsstudy import evaluation
from newsstudy.baselines import BASELINES, TRAINED, TrainSettings
from newsstudy.baselines.common import BaselineData
from newsstudy.metrics import DEFAULT_METRICS


def run_baselines(world, data: BaselineData, settings: TrainSettings, n_seeds: int,
                  seed: int, top_n: int, names=None, log=print
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-user metrics, per-epoch training logs and seconds per method, in this process."""
    runs = [fit_and_rank(world, data, settings, name, s, top_n)
            for name, s in baseline_jobs(names, n_seeds, seed)]
    return _collect(runs, log)


def run_baselines_in_parallel(profile: str, text_embedder: str, val_days: int,
                              settings: TrainSettings, n_seeds: int, seed: int,
                              top_n: int, names=None, log=print, workers: int | None = None
                              ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """:func:`run_baselines`, each (method, seed) in a single-thread worker process.

    Each worker loads the profile's world and prepares the baselines' data once, then
    takes jobs, longest first. Every fit is seeded and single-threaded either way, so the
    result is the serial one.
    """
    from newsstudy.parallel import map_jobs

    jobs = [(profile, text_embedder, val_days, asdict(settings), name, s, top_n)
            for name, s in baseline_jobs(names, n_seeds, seed)]
    order = sorted(range(len(jobs)), key=lambda i: TRAINED_COST.get(jobs[i][4], 0), reverse=True)
    done = map_jobs(_baseline_job, [jobs[i] for i in order], workers)
    runs = [None] * len(jobs)
    for i, run in zip(order, done, strict=True):
        runs[i] = run
    return _collect(runs, log)


TRAINED_COST = {"sasrec": 5, "nrhub": 4, "pinsage": 4, "gru4rec": 3, "hstu": 3}
"""Rough relative training cost per method (measured on the default world), so the
longest jobs start first."""


def baseline_jobs(names, n_seeds: int, seed: int) -> list[tuple[str, int]]:
    """(method, seed) pairs: trained methods over ``n_seeds`` seeds, the others once."""
    return [(name, s) for name in (names or list(BASELINES))
            for s in ([seed + i for i in range(n_seeds)] if name in TRAINED else [seed])]


def fit_and_rank(world, data: BaselineData, settings: TrainSettings, name: str, seed: int,
                 top_n: int) -> tuple[str, pd.DataFrame, list[dict], float]:
    """Fit one baseline for one seed: its name, per-user metrics, training log, seconds."""
    started = time.perf_counter()
    model = BASELINES[name]().fit(data, settings, seed)
    frame = evaluation.evaluate_rankings(world, model.rank(data.test_users, top_n))
    frame = frame.reset_index().assign(method=name, seed=seed)
    history = [{"method": name, "seed": seed, **row} for row in model.history]
    return name, frame, history, time.perf_counter() - started


@functools.lru_cache(maxsize=1)
def _prepared(profile: str, text_embedder: str, val_days: int):
    from newsstudy.baselines import prepare
    from newsstudy.world import data as world_data

    world = world_data.load_world(profile)
    return world, prepare(world, text_embedder, val_days)


def _baseline_job(profile: str, text_embedder: str, val_days: int, settings: dict, name: str,
                  seed: int, top_n: int) -> tuple[str, pd.DataFrame, list[dict], float]:
    world, data = _prepared(profile, text_embedder, val_days)
    return fit_and_rank(world, data, TrainSettings(**settings), name, seed, top_n)


def _collect(runs, log) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    frames, logs, seconds = [], [], {}
    for name, frame, history, spent in runs:
        frames.append(frame)
        logs.extend(history)
        seconds[name] = round(seconds.get(name, 0.0) + spent, 2)
    for name, spent in seconds.items():
        log(f"{name}: {spent:.1f}s of training and ranking")
    per_user = pd.concat(frames, ignore_index=True)
    per_user = per_user[["method", "seed", "user", "is_cold", *DEFAULT_METRICS]]
    return per_user, pd.DataFrame(logs), seconds
