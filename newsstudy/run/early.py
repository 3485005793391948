"""Builds a notebook's input before the notebook's turn, in the core time others leave idle.

06_ab_simulation waits for 05_distillation's student, yet its A/B world (100,000 users,
about 45 s on one core) reads only 01_data's world parameters. ``reproduce`` therefore
builds that world as soon as 01_data has finished, in a process of its own at the lowest
CPU priority (:func:`at_lowest_priority`), so that it takes the core time the notebooks
leave idle (the ends of 04's and 05's task lists, where one worker waits for the other).
06 starts once the build has ended and finds the world in the cache: the build is the one
06 would run itself (:func:`newsstudy.ab.market.prepare_ab_world`), so the results are the
same. A build that fails is left to the notebook, which runs it again and reports it. A
build starts only while the memory it is expected to need
(:func:`newsstudy.run.checks.memory_estimate`) is available beside the notebooks running,
so that it never pushes a smaller machine into swap; until then it waits, and if the
notebook's turn comes first, the notebook builds its input itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOWEST_PRIORITY = 19


@dataclass(frozen=True)
class EarlyBuild:
    """An input of ``notebook`` that reads only the notebooks in ``needs``."""

    notebook: str
    needs: tuple[str, ...]
    build: Callable[[str, Mapping[str, Any]], None]
    """``build(profile, the notebook's parameters)``: write the input to the cache."""
    what: str


def build_ab_world(profile: str, params: Mapping[str, Any]) -> None:
    """06's A/B world, for 06's parameters."""
    from newsstudy.ab import market

    market.prepare_ab_world(profile, params["n_users"], params["days"], params["history_days"],
                            log=lambda *args: None)


EARLY_BUILDS: tuple[EarlyBuild, ...] = (
    EarlyBuild("06_ab_simulation", ("01_data",), build_ab_world, "the A/B world"),
)


def available_memory_bytes() -> int | None:
    """Memory the kernel could give a new process now (``MemAvailable``; None where the OS
    does not say)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def at_lowest_priority() -> None:
    """Give this process only the CPU time other processes leave idle, on one thread.

    Niceness alone is not enough on Linux: with session autogroups (the default on desktop
    kernels) it orders processes only within a session, and the cores are shared equally
    between sessions, whatever their niceness; each notebook's kernel runs in a session of
    its own. So this process starts a session too, and sets that session's niceness
    (``/proc/self/autogroup``) as well as its own.
    """
    from newsstudy.parallel import exit_with_parent, one_thread

    exit_with_parent()  # a killed reproduce leaves no build behind
    one_thread()
    if not hasattr(os, "setsid"):  # not a POSIX system: no sessions, no niceness
        return
    os.setsid()
    os.nice(LOWEST_PRIORITY)
    autogroup = Path("/proc/self/autogroup")
    if autogroup.exists():
        try:
            autogroup.write_text(str(LOWEST_PRIORITY))
        except OSError:
            pass  # not allowed here: niceness within the session still applies


def run_early_build(index: int, profile: str, params: Mapping[str, Any]) -> dict:
    """Run ``EARLY_BUILDS[index]`` in this (fresh, lowest-priority) worker process; its
    wall and CPU seconds and its peak memory (this process and any it starts, as the
    runner records a notebook's: summed PSS and RSS, in GB)."""
    import resource

    from newsstudy.run.records import PeakMemory

    started = time.perf_counter()
    with PeakMemory(include_self=True) as memory:
        EARLY_BUILDS[index].build(profile, params)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_pss_gb": round(memory.peak_pss_bytes / 1e9, 3),
            "peak_rss_gb": round(memory.peak_bytes / 1e9, 3)}


def early_pool(builds: int):
    """The pool that runs early builds: one fresh lowest-priority process per build."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=max(1, builds),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=at_lowest_priority, max_tasks_per_child=1)
