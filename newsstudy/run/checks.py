"""Checks made before a kernel starts: will the run fit in memory, does its model exist,
and where did a bad value come from (the params file or a ``-p`` override).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from newsstudy.params import (
    ParamsError,
    display_path,
    params_path,
)
from newsstudy.schemas import NotebookParams


def value_origin(notebook: str, profile: str, key: str,
                 overrides: Mapping[str, Any] | None = None) -> str:
    """Where a parameter's value came from: its ``-p`` override, else the file naming it
    (the teacher recipe for a recipe field the notebook's own file leaves out)."""
    from newsstudy.params import own_fields, recipe_path, uses_recipe

    overrides = dict(overrides or {})
    if key in overrides:
        return f"override {key}={overrides[key]!r}"
    if uses_recipe(notebook) and key not in own_fields(notebook):
        return display_path(recipe_path(profile))
    return display_path(params_path(notebook, profile))


# Resident memory per simulated user and day of history of a world build, measured:
# 06's build of 100,000 users with 14 days of history peaked at 4.9 GB once the cleaner
# featurised chunks of users (benchmarks/bench_world_memory.py; 14.2 GB before).
WORLD_BYTES_PER_USER_DAY = 3_600
BASE_BYTES = 1.5e9  # a kernel with torch, the corpus and its embeddings loaded
WORLD_BUILDERS = ("01_data", "01b_sensitivity", "06_ab_simulation")


def machine_memory_bytes() -> int | None:
    """Physical memory of this machine (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_estimate(notebook: str, params: NotebookParams) -> float | None:
    """Bytes a notebook's world build is expected to hold at its peak (None: no estimate)."""
    n_users = getattr(params, "n_users", None)
    if notebook not in WORLD_BUILDERS or not isinstance(n_users, int):
        return None
    days = getattr(params, "history_days", None) or 28  # 01b sweeps 01's 28-day world
    return BASE_BYTES + WORLD_BYTES_PER_USER_DAY * days * n_users


def check_memory(notebook: str, profile: str, params: NotebookParams,
                 overrides: Mapping[str, Any] | None = None,
                 available: int | None = None) -> None:
    """``ParamsError`` before any kernel starts when the run cannot fit in memory.

    The estimate is :func:`memory_estimate`; the message names where ``n_users`` came from,
    the estimate and the machine's memory, and ``--force`` (which skips this check).
    """
    need = memory_estimate(notebook, params)
    have = machine_memory_bytes() if available is None else available
    if need is None or have is None or need <= have:
        return
    raise ParamsError(
        f"{value_origin(notebook, profile, 'n_users', overrides)}: n_users: {params.n_users:,} users need about {need / 1e9:.0f} GB of memory "
        f"({WORLD_BYTES_PER_USER_DAY / 1e3:.1f} kB per user and day of history, measured), and this machine has "
        f"{have / 1e9:.1f} GB; lower n_users, or pass --force to try anyway")


def check_model_available(notebook: str, profile: str, params: NotebookParams,
                          overrides: Mapping[str, Any] | None = None) -> None:
    """``ParamsError`` before any kernel starts when ``model`` names no model on this machine.

    The schema checks a model name's form; a Hugging Face id must also be in the local
    cache, since nothing is downloaded.
    """
    model = getattr(params, "model", None)
    if not isinstance(model, str):
        return
    from newsstudy.policy.ladder import check_model_name

    try:
        check_model_name(model, in_cache=True)
    except ValueError as error:
        raise ParamsError(f"{value_origin(notebook, profile, 'model', overrides)}: "
                          f"model: {error}") from None
