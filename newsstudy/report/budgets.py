"""The budgets table: each notebook's time budget beside what its last run took.

Read from ``reports/<profile>/runs.json`` (wall time and peak resident memory of the
kernel and its children, recorded by ``newsstudy run``/``reproduce``) and from the
notebooks' own results files (where the time went, as each notebook timed its parts).
``newsstudy budgets --profile P`` prints it; ``--write`` writes ``docs/budgets.md``
(:func:`budgets_page`), and a test keeps that file equal to the committed runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from newsstudy import paths

BUDGET_MINUTES: dict[str, dict[str, float]] = {
    "smoke": {"01_data": 1, "01b_sensitivity": 1, "02_rewards": 1, "03_grpo": 1.5,
              "03b_baselines": 1, "04_scaling": 1, "05_distillation": 1,
              "06_ab_simulation": 1},
    "default": {"01_data": 3, "01b_sensitivity": 8, "02_rewards": 3, "03_grpo": 15,
                "03b_baselines": 6, "04_scaling": 10, "05_distillation": 8,
                "06_ab_simulation": 8},
}
"""Minutes each notebook may take on 2 idle cores (the issues' budgets)."""

WHOLE_BUDGET_MINUTES: dict[str, float] = {"smoke": 3, "default": 30}
"""Minutes one ``reproduce`` of the whole profile may take on 2 idle cores."""

MEMORY_BUDGET_GB = 6.0



def _results(profile: str, notebook: str) -> Mapping:
    path = paths.results_path(profile, notebook)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


def _parts(results: Mapping) -> dict[str, float]:
    """Where a notebook's time went, from the timings its results file recorded."""
    found: dict[str, float] = {}
    for key in ("timings_seconds", "timings", "seconds"):
        value = results.get(key)
        if not isinstance(value, Mapping):
            continue
        for name, seconds in value.items():
            timed = key == "seconds" or name.endswith("_seconds")  # 06 also records a rate
            part = name.removesuffix("_seconds")
            if timed and part != "total" and isinstance(seconds, int | float):
                found[part] = float(seconds)
    if isinstance(results.get("build_seconds"), int | float):
        found["world build"] = float(results["build_seconds"])
    if isinstance(results.get("seconds"), int | float):
        found["sweep"] = float(results["seconds"])
    return found


def budget_rows(profile: str) -> list[dict]:
    """One row per notebook of the profile: budget, last wall time, peak memory, parts."""
    from newsstudy.params import profile_notebooks
    from newsstudy.run.records import load_reproduce, load_runs

    runs = load_runs(profile)
    budgets = BUDGET_MINUTES.get(profile, {})
    beside = overlapping(runs)
    background = set(load_reproduce(profile).get("background") or [])
    rows = []
    for notebook in profile_notebooks(profile):
        record = runs.get(notebook, {})
        seconds = record.get("wall_seconds")
        parts = _parts(_results(profile, notebook))
        top = sorted(parts.items(), key=lambda kv: -kv[1])[:3]
        rows.append({
            "notebook": notebook,
            "budget min": budgets.get(notebook),
            "measured min": None if seconds is None else round(seconds / 60, 1),
            "within": None if seconds is None or notebook not in budgets
            else seconds / 60 <= budgets[notebook],
            # PSS (shared pages counted once) where recorded, else summed RSS
            "peak memory GB": record.get("peak_pss_gb", record.get("peak_rss_gb")),
            # CPU time of the kernel and its workers: the work, whatever ran beside it
            "cpu min": None if record.get("cpu_seconds") is None
            else round(record["cpu_seconds"] / 60, 1),
            "where the time goes": ", ".join(f"{name} {value / 60:.1f} min" for name, value in top),
            "ran beside": ", ".join(name.split("_", 1)[0] for name in beside.get(notebook, []))
            + (" (in the background)" if notebook in background else ""),
        })
    return rows


def recorded_cores(profile: str) -> int:
    """The cores of the machine that recorded the profile's runs (the largest recorded)."""
    from newsstudy.run.records import load_runs

    counts = [record.get("machine", {}).get("cpu_count") for record in load_runs(profile).values()]
    return max([count for count in counts if isinstance(count, int)] or [1])


def overlapping(runs: Mapping[str, Mapping]) -> dict[str, list[str]]:
    """For each recorded run, the other notebooks whose recorded runs overlapped it in time
    (``reproduce --jobs 2`` runs two at once, and each then has about one core)."""
    spans = {name: (record["started"], record["finished"]) for name, record in runs.items()
             if record.get("started") and record.get("finished")}
    return {name: [other for other, (start, end) in spans.items()
                   if other != name and start < spans[name][1] and spans[name][0] < end]
            for name in spans}


def budget_markdown(profile: str) -> str:
    """The budgets table as markdown, with the total and the memory peak under it."""
    rows = budget_rows(profile)
    lines = ["| notebook | budget (min) | last run (min) | within | ran beside | CPU (core-min) | peak memory (GB) | where the time goes |",
             "|---|---|---|---|---|---|---|---|"]

    def show(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "**no**"
        return str(value)

    for row in rows:
        lines.append("| " + " | ".join(show(row[key]) for key in (
            "notebook", "budget min", "measured min", "within", "ran beside", "cpu min",
            "peak memory GB", "where the time goes")) + " |")
    measured = [row["measured min"] for row in rows if row["measured min"] is not None]
    memory = [row["peak memory GB"] for row in rows if row["peak memory GB"] is not None]
    lines.append("")
    lines.append(whole_run_line(profile, sum(measured), len(measured)))
    cpu = [row["cpu min"] for row in rows if row["cpu min"] is not None]
    if cpu and len(cpu) == len(rows):
        cores = max(1, int(recorded_cores(profile)))
        lines.append("")
        early, early_text = early_builds(profile)
        lines.append(f"The notebooks' CPU time adds up to {sum(cpu):.1f} core-min"
                     f"{early_text}: on "
                     f"{cores} core{'s' if cores > 1 else ''}, no schedule of this work "
                     f"takes less than {(sum(cpu) + early) / cores:.1f} min. CPU time is that "
                     f"of the kernel and the workers it started, counted once each has exited.")
    lines.append("")
    early_memory = early_build_memory(profile)
    early_text = "".join(f"; of the early build of {what}: {gb} GB" for what, gb in early_memory)
    largest = max([*memory, *(gb for _, gb in early_memory)], default=None)
    lines.append(f"Largest peak memory of a notebook: {max(memory) if memory else '-'} GB"
                 f"{early_text} (budget {MEMORY_BUDGET_GB:g} GB: "
                 f"{'-' if largest is None else 'within' if largest <= MEMORY_BUDGET_GB else '**over**'}). Peak memory is that of the kernel and "
                 f"the processes it started, summed at one time as PSS (a page shared by "
                 f"several processes counted once); runs recorded before PSS show summed RSS, "
                 f"which counts each process's copy of the shared libraries.")
    return "\n".join(lines)


def early_builds(profile: str) -> tuple[float, str]:
    """The last whole ``reproduce``'s early builds (:mod:`newsstudy.run.early`): their
    core-minutes, and ``, plus ...`` naming each with its CPU time ("" if none)."""
    from newsstudy.run.records import load_reproduce

    builds = load_reproduce(profile).get("early_builds") or {}
    minutes = sum(build.get("cpu_seconds", 0.0) for build in builds.values()) / 60
    parts = [f"{build.get('what', 'an input')} of {notebook} "
             f"({build.get('cpu_seconds', 0.0) / 60:.1f} core-min over "
             f"{build.get('wall_seconds', 0.0) / 60:.1f} min at the lowest CPU priority)"
             for notebook, build in builds.items()]
    return minutes, f", plus the early build of {', '.join(parts)}" if minutes else ""


def early_build_memory(profile: str) -> list[tuple[str, float]]:
    """``(what, peak GB)`` of each early build of the last whole ``reproduce`` that recorded
    its memory (summed PSS of the build's process and those it started)."""
    from newsstudy.run.records import load_reproduce

    builds = load_reproduce(profile).get("early_builds") or {}
    return [(f"{build.get('what', 'an input')} of {notebook}",
             build.get("peak_pss_gb", build.get("peak_rss_gb")))
            for notebook, build in builds.items()
            if build.get("peak_pss_gb", build.get("peak_rss_gb")) is not None]


def whole_run_line(profile: str, summed: float, count: int) -> str:
    """The last whole ``reproduce`` of the profile (wall time, jobs, what it skipped)
    against its budget; or, if none is recorded, the sum of the notebooks' last runs."""
    from newsstudy.run.records import load_reproduce

    whole = load_reproduce(profile)
    budget = WHOLE_BUDGET_MINUTES.get(profile)
    if not whole.get("wall_seconds"):
        return (f"Sum of the last runs: {summed:.1f} min over {count} notebooks (no whole "
                f"`reproduce` recorded).")
    minutes = whole["wall_seconds"] / 60
    skipped = whole.get("skipped") or []
    within = "" if budget is None else (
        f" against a budget of {budget:g} min: {'within' if minutes <= budget else '**over**'}")
    return (f"The last `reproduce` of the whole profile ({whole.get('jobs', 1)} notebooks at a "
            f"time, started {whole.get('started', '?')}): **{minutes:.1f} min**{within}; "
            f"it ran {len(whole.get('ran') or [])} notebooks"
            f"{' and skipped ' + ', '.join(skipped) + ' (up to date)' if skipped else ''}. "
            f"The notebooks' own times add up to {summed:.1f} min (two run at once).")


PAGE_INTRO = """# Budgets (2 CPU cores)

Generated from `reports/default/runs.json` and the results files by
`newsstudy budgets --profile default --write`: the last recorded run of each notebook,
here one `newsstudy reproduce --profile default` on the 2-core machine, two notebooks at a
time over the dependency graph. The budgets of single notebooks were set for a notebook
running alone; *ran beside* names the notebooks that shared the two cores with it, and
*in the background* those that ran at niceness 10 on one thread beside a notebook with a
longer chain of work ahead (where Linux groups processes by session, the two kernels
still share the cores equally). *CPU* is the core-minutes of the kernel and the workers
it started. A run that finds its models in the artifact cache (checkpoints are stored by
the hash of their configuration) leaves out their training, so it is faster than one from
empty artifacts; `CHANGELOG.md` says which kind each committed run was and records the
last run from empty artifacts. The benchmarks behind the budgets are in
`docs/benchmarks.md`.
"""


def budgets_page(profile: str = "default") -> str:
    """The whole of ``docs/budgets.md``: its introduction, then :func:`budget_markdown`."""
    return f"{PAGE_INTRO}\n{budget_markdown(profile)}\n"
