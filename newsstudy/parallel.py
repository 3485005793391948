"""Independent training jobs in parallel processes, one torch thread each.

The ladder's models are small enough that one torch thread trains them about as fast as
two, so a 2-core machine trains two of them at once. :func:`map_jobs` runs a module-level
function over a list of argument tuples in a pool of ``workers`` spawned processes, each
pinned to one thread (``torch.set_num_threads(1)`` and the BLAS variables), and returns
the results in the order of the jobs. ``workers = 1`` runs the jobs in this process, one
after the other, under the same single thread: the same seeds and thread counts give the
same numbers either way (``tests/test_parallel.py`` checks it).

A worker keeps what its jobs only read (the world, the reward stack: about 15 s to load
and build) for the jobs after: :func:`worker_memo`, used by
:func:`newsstudy.world.data.load_world` and
:meth:`newsstudy.rewards.RewardScorer.from_settings`.

Jobs receive and return plain data (names, numbers, lists, dicts); a worker loads what it
needs (the world, a checkpoint) from the profile's artifacts, and whatever it trains goes
through the checkpoint store's atomic cache, so a killed pool loses no finished job.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
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


_MEMO: dict | None = None
"""What this worker process's jobs share (:func:`worker_memo`); None outside a worker."""


def _init_worker() -> None:
    """A worker's initialiser: it ends with its parent (:func:`exit_with_parent`), one
    thread (:func:`one_thread`) and a fresh memo."""
    global _MEMO
    exit_with_parent()
    one_thread()
    _MEMO = {}


LIFELINE_SECONDS = 0.5
"""How often a worker looks whether the process that started it is still there."""


def exit_with_parent(interval: float = LIFELINE_SECONDS) -> None:
    """End this process, and every process it started, as soon as its parent is gone.

    For the worker processes of a pool (the runner's notebook workers and early builds, a
    kernel's training workers): when whoever started them is killed (``kill -9`` of
    ``reproduce``, a kernel that died), they would otherwise run on, holding cores and
    writing into caches a re-run is about to write. A daemon thread looks every
    ``interval`` seconds whether the parent process is the one this process started
    under (a dead parent's children are handed to another process); when it is not, it
    kills this process's descendants (a notebook worker's kernel and its training
    workers) and exits at once. Does nothing where the OS has no parent ids.
    """
    import threading

    if not hasattr(os, "getppid"):
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        try:
            import psutil

            for child in psutil.Process().children(recursive=True):
                try:
                    child.kill()
                except psutil.Error:
                    pass
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def worker_memo(key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``, kept for the next job of this worker process that asks for ``key``.

    Only in the worker processes of :func:`map_jobs` and :func:`run_tasks`, whose jobs run
    one after the other and only read what they share (a world, a reward stack); elsewhere
    (a kernel, a serial run) ``build()`` every time. ``key`` must name everything the
    value depends on (for a world: its folder and its hash). The last two keys are kept.
    """
    if _MEMO is None:
        return build()
    if key not in _MEMO:
        while len(_MEMO) >= 2:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = build()
    return _MEMO[key]


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
                             initializer=_init_worker) as pool:
        futures = [pool.submit(function, *job) for job in jobs]
        return [future.result() for future in futures]


@dataclass(frozen=True)
class Task:
    """One job of :func:`run_tasks`: ``function(*args)``, once the tasks named in ``needs``
    have finished (what it needs, it reads from their caches, not from their results)."""

    function: Callable[..., Any]
    args: tuple = ()
    needs: tuple[str, ...] = ()


def run_tasks(tasks: Mapping[Hashable, Task], workers: int | None = None
              ) -> dict[Hashable, Any]:
    """Every task's result, by name; each task run by a single-thread worker process once
    the tasks it needs have finished.

    A task starts when a worker is free, and among the tasks ready then, the mapping's
    order decides which (put the longest chain first): a task whose needs finish later
    goes before every task after it in the mapping, even one that has waited longer. A
    training run's evaluation can thus be split into tasks that start once it is trained,
    on whichever workers are free, ahead of the shorter work that fills the gaps.
    ``workers`` 1 runs the tasks here in the mapping's order, under one torch thread, as
    :func:`map_jobs` does. A task that fails raises here, once
    the tasks already running have finished (those queued are cancelled). ``ValueError`` (before anything runs) for a
    need that names no task or a task that needs itself, directly or through others.
    """
    order = list(tasks)
    for name, task in tasks.items():
        unknown = [need for need in task.needs if need not in tasks]
        if unknown:
            raise ValueError(f"task {name!r} needs {unknown}, which are not tasks")
    done: set[Hashable] = set()
    serial: list[Hashable] = []
    while len(serial) < len(order):  # the mapping's order, each task after its needs
        ready = [name for name in order if name not in done
                 and all(need in done for need in tasks[name].needs)]
        if not ready:
            raise ValueError(f"tasks {[name for name in order if name not in done]} need "
                             f"each other in a cycle")
        serial.append(ready[0])
        done.add(ready[0])
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1 or len(tasks) <= 1:
        results = map_jobs(_call, [(tasks[name].function, tasks[name].args) for name in serial],
                           workers=1)
        by_name = dict(zip(serial, results, strict=True))
        return {name: by_name[name] for name in order}
    from concurrent.futures import FIRST_COMPLETED, wait

    results: dict[Hashable, Any] = {}
    running: dict[Any, Hashable] = {}
    context = multiprocessing.get_context("spawn")
    slots = min(workers, len(tasks))
    with ProcessPoolExecutor(max_workers=slots, mp_context=context,
                             initializer=_init_worker) as pool:
        submitted: set[Hashable] = set()
        while len(results) < len(tasks):
            for name in order:  # no queue in the pool: each task goes to a free worker
                if len(running) < slots and name not in submitted \
                        and all(need in results for need in tasks[name].needs):
                    running[pool.submit(tasks[name].function, *tasks[name].args)] = name
                    submitted.add(name)
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            try:
                for future in finished:
                    results[running.pop(future)] = future.result()
            except BaseException:
                for future in running:  # those not started yet; the others finish
                    future.cancel()
                raise
    return {name: results[name] for name in order}


def _call(function: Callable[..., Any], args: tuple) -> Any:
    return function(*args)
