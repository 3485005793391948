"""Which notebook reads which: the study's dependency graph, and the order to run it in.

A notebook *needs* another when it reads something that one writes: its world, a results
file or table, a published policy. :data:`NEEDS` declares it once for the study's
notebooks (``tests/test_graph.py`` checks the declaration against the names each notebook
and its stage code mention); a notebook it does not list (a toy notebook in a test) needs
every notebook before it, the safe reading.

The graph decides two things. A notebook's fingerprint covers the runs of the notebooks it
needs, directly or through others (:func:`inputs_of`), so re-running 02_rewards no longer
re-runs 03_grpo. And ``newsstudy reproduce --jobs 2`` runs two notebooks at once when
neither needs the other (03b_baselines beside 03_grpo, 02_rewards beside 01b_sensitivity),
starting first the notebook with the longest chain of work after it
(:func:`critical_order`).

    01_data ──┬── 01b_sensitivity
              ├── 02_rewards
              ├── 03b_baselines ─────────────┐
              └── 03_grpo ── 04_scaling ── 05_distillation ── 06_ab_simulation
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

NEEDS: dict[str, tuple[str, ...]] = {
    "01_data": (),
    # builds its variant worlds in memory from 01's parameters and the shared embedder
    "01b_sensitivity": ("01_data",),
    "02_rewards": ("01_data",),
    "03_grpo": ("01_data",),
    "03b_baselines": ("01_data",),
    # best-of-N samples 03's published teacher
    "04_scaling": ("03_grpo",),
    # distils 04's largest size (published there), reads 04's per-user capacity table, and
    # completes the offline table from 03b's and 03's per-user tables
    "05_distillation": ("03_grpo", "03b_baselines", "04_scaling"),
    # the A/B world takes the parameters of 01's world; the treatment is 05's student
    "06_ab_simulation": ("01_data", "05_distillation"),
}


def direct_needs(notebook: str, order: Sequence[str]) -> tuple[str, ...]:
    """The notebooks of ``order`` that ``notebook`` reads directly.

    From :data:`NEEDS` when it declares the notebook (restricted to those in ``order``: a
    profile need not run every notebook); otherwise every notebook before it in ``order``.
    """
    if notebook in NEEDS:
        return tuple(name for name in NEEDS[notebook] if name in order)
    return tuple(order[: order.index(notebook)]) if notebook in order else tuple(order)


def inputs_of(notebook: str, order: Sequence[str]) -> list[str]:
    """Every notebook of ``order`` that ``notebook`` reads, directly or through another,
    in ``order``'s order."""
    seen: set[str] = set()
    stack = list(direct_needs(notebook, order))
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(direct_needs(name, order))
    return [name for name in order if name in seen]


def check_order(order: Sequence[str]) -> None:
    """``ValueError`` unless every notebook of ``order`` comes after the notebooks it needs."""
    for index, notebook in enumerate(order):
        late = [name for name in direct_needs(notebook, order) if name not in order[:index]]
        if late:
            raise ValueError(f"{notebook} needs {', '.join(late)}, which do not run before it")


def downstream_seconds(order: Sequence[str], seconds: Mapping[str, float]) -> dict[str, float]:
    """For each notebook, its own expected seconds plus the longest chain of notebooks that
    need it (the critical path from its start to the end of the run)."""
    needed_by: dict[str, list[str]] = {name: [] for name in order}
    for name in order:
        for need in direct_needs(name, order):
            needed_by[need].append(name)
    chain: dict[str, float] = {}
    for name in reversed(order):
        after = max((chain[child] for child in needed_by[name]), default=0.0)
        chain[name] = seconds.get(name, 0.0) + after
    return chain


def critical_order(ready: Sequence[str], order: Sequence[str],
                   seconds: Mapping[str, float]) -> list[str]:
    """``ready`` sorted to start the longest remaining chain first (ties: run order)."""
    chain = downstream_seconds(order, seconds)
    return sorted(ready, key=lambda name: (-chain[name], order.index(name)))


def unrelated(notebook: str, order: Sequence[str]) -> list[str]:
    """Notebooks of ``order`` that neither need ``notebook`` nor are needed by it: those
    that may run at the same time as it."""
    related = set(inputs_of(notebook, order))
    related |= {name for name in order if notebook in inputs_of(name, order)}
    return [name for name in order if name != notebook and name not in related]
