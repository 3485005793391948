"""Independent training jobs in parallel processes, one torch thread each.

The ladder's models are small enough that one torch thread trains them about as fast as
two, so a 2-core machine trains two of them at once. :func:`map_jobs` runs a module-level
function over a list of argument tuples in a pool of ``workers`` spawned processes, each
pinned to one thread (``torch.set_num_threads(1)`` and the BLAS variables), and returns
the results in the order of the jobs. ``workers = 1`` runs the jobs in this process, one
after the other, under the same single thread: the same seeds and thread counts give the
same numbers either way (``tests/test_parallel.py`` checks it).

Jobs receive and return plain data (names, numbers, lists, dicts); a worker loads what it
needs (the world, a checkpoint) from the profile's artifacts, and whatever it trains goes
through the checkpoint store's atomic cache, so a killed pool loses no finished job.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def one_thread() -> None:
    """Pin this process to one torch and BLAS thread (a worker's initialiser), and ask torch
    for its deterministic algorithms (on the CPU nearly all already are; an op without
    one warns instead of failing)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)


def default_workers() -> int:
    """Worker processes to use: the machine's cores, at most 2 unless ``NEWSSTUDY_WORKERS`` says."""
    wanted = os.environ.get("NEWSSTUDY_WORKERS")
    if wanted:
        try:
            value = int(wanted)
        except ValueError as error:
            raise ValueError(f"NEWSSTUDY_WORKERS must be a positive integer, got {wanted!r}") from error
        if value < 1:
            raise ValueError(f"NEWSSTUDY_WORKERS must be a positive integer, got {wanted!r}")
        return value
    return max(1, min(2, os.cpu_count() or 1))


def map_jobs(function: Callable[..., Any], jobs: Sequence[tuple], workers: int | None = None
             ) -> list[Any]:
    """``[function(*job) for job in jobs]``, run by ``workers`` single-thread processes.

    ``function`` must be importable (defined at module level) and its arguments and result
    picklable plain data. With ``workers`` 1 (or one job) everything runs here under one
    torch thread, restored afterwards. Order of results = order of ``jobs``. Put the longest
    jobs first: the pool hands them out in order.
    """
    jobs = list(jobs)
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1 or len(jobs) <= 1:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return [function(*job) for job in jobs]
        finally:
            torch.set_num_threads(before)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context,
                             initializer=one_thread) as pool:
        futures = [pool.submit(function, *job) for job in jobs]
        return [future.result() for future in futures]
