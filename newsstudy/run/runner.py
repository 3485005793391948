"""Execute notebooks with papermill into ``reports/<profile>/``, skipping what is up to date.

``run_notebook`` validates everything before it starts a kernel, so a typo costs a
second, not a run. The executed notebook is written beside its destination under a
temporary name and moved into place only on success: a failed run never overwrites the
previous good report, and its partial output is kept as ``<notebook>.failed.ipynb`` for
debugging. ``reproduce`` runs every notebook of a profile over the dependency graph of
:mod:`newsstudy.run.graph`, two at a time on a 2-core machine when neither needs the other
(the command line then builds the report: :mod:`newsstudy.report` reads this module, not
the other way).

**Skip and resume.** Every successful run is recorded in ``reports/<profile>/runs.json``
(one record per notebook, written atomically). A notebook is skipped when its
*fingerprint* equals the one recorded for its last successful run and that run's outputs
are still in place. The fingerprint hashes three parts:

- ``code``: the bytes of ``notebooks/<notebook>.ipynb`` and of every module of the
  ``newsstudy`` package that the notebook imports, directly or through other modules
  (:func:`newsstudy.run.fingerprints.code_modules`, read from the import statements), so
  editing any code a notebook runs re-runs it, and editing the report re-runs nothing;
- ``params``: ``config_hash`` of the validated parameters (defaults filled in, overrides
  applied), the same hash ``runs.json`` records as ``params_hash``;
- ``inputs``: for every notebook it reads, directly or through another
  (:func:`newsstudy.run.graph.inputs_of`), the fingerprint of its last successful run and
  the sha256 of the results file that run wrote. A notebook that re-runs with different
  output therefore invalidates everything that reads it (re-running 02_rewards leaves
  03_grpo up to date); one that has never run counts as an input too.

"Outputs still in place" means: the executed notebook exists, the results file (if the
run wrote one) still has the recorded sha256, and the run used the artifact store that is
here now. The store is named by a random id in ``artifacts/<profile>/store_id``, created
on the first run: a fresh checkout carries the committed ``runs.json`` but no artifacts
(no world, no checkpoints), so its first ``reproduce`` runs everything instead of
skipping on the author's records; ``make clean`` has the same effect.

**Interruption.** Before a notebook starts, its record is replaced by a placeholder
(``"incomplete": true``, the start time, the last wall time for estimates) that holds no
fingerprint; the full record is written only after the report has been moved into place.
A run stopped at any point (exception, Ctrl-C, killed machine) thus leaves that notebook
without a fingerprint: the next call re-runs it, and skips the notebooks before it that
finished. Results, tables and figures are written
atomically by the notebooks (``newsstudy.io``), so nothing reads a half-written file.
The notebooks of one ``reproduce`` update ``runs.json`` under a lock
(:func:`newsstudy.run.records.runs_lock`); two ``reproduce`` calls on the same profile are
not coordinated beyond that: run one per profile at a time.

This module executes and orchestrates; the fingerprint's hashes live in
:mod:`newsstudy.run.fingerprints`, the run records and their provenance in
:mod:`newsstudy.run.records`, and the checks made before a kernel starts in
:mod:`newsstudy.run.checks`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from newsstudy import paths, variants
from newsstudy.params import (
    ParamsError,
    display_path,
    load_params,
    notebooks,
    papermill_arguments,
    profile_file,
    profile_notebooks,
)
from newsstudy.progress import NOTEBOOK_VARIABLE, duration
from newsstudy.run import graph
from newsstudy.run.checks import check_memory, check_model_available, memory_estimate
from newsstudy.run.early import (
    EARLY_BUILDS,
    available_memory_bytes,
    early_pool,
    run_early_build,
)
from newsstudy.run.fingerprints import (
    PackageCode,
    code_hash,
    file_sha256,
    fingerprint,
    inputs_hash,
    notebook_source,
    package_code,
    params_hash,
)
from newsstudy.run.portable import make_portable
from newsstudy.run.records import (
    PeakMemory,
    git_state,
    load_runs,
    machine,
    package_versions,
    restorable,
    save_record,
    save_reproduce,
    store_id,
    utc_now,
)
from newsstudy.schemas import NotebookParams

KERNEL_NAME = "newsstudy"  # registered by `make .venv`
FALLBACK_KERNEL_NAME = "python3"

Log = Callable[[str], None]


class NotebookFailed(RuntimeError):
    """A notebook raised while executing (or its kernel could not run it)."""


def kernel_name() -> str:
    """The project's kernel if it is registered, else the default Python kernel."""
    specs = KernelSpecManager().find_kernel_specs()
    return KERNEL_NAME if KERNEL_NAME in specs else FALLBACK_KERNEL_NAME


def report_path(notebook: str, profile: str) -> Path:
    """Where the executed notebook goes: ``reports/<profile>/<notebook>.ipynb``."""
    return paths.report_dir(profile) / f"{notebook}.ipynb"


def failed_path(report: Path) -> Path:
    """Where a failed run's partial output goes: ``<notebook>.failed.ipynb`` beside the report."""
    return report.with_name(f"{report.stem}.failed.ipynb")


def keep_failed(partial: Path, report: Path) -> Path | None:
    """Move a failed run's partial output to ``failed_path(report)``; None if there is none."""
    if not partial.exists():
        return None
    kept = failed_path(report)
    os.replace(partial, kept)
    return kept


class QuietKernelManager(AsyncKernelManager):
    """The kernel papermill starts, with its own log at ERROR: its start-up warning about
    TCP without encryption (a local kernel on the loopback interface, which every
    Jupyter kernel started this way uses) is not the user's business."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return super().format_kernel_cmd([*(extra_arguments or []),
                                          "--IPKernelApp.log_level=ERROR"])


def execute(source: Path, target: Path, parameters: dict[str, Any]) -> None:
    """Execute ``source`` into ``target`` with papermill; ``NotebookFailed`` on any error.

    Any exception counts as a failure: besides a cell's error, papermill surfaces kernel
    start-up, dead-kernel and timeout errors from several libraries.
    """
    import sys

    interactive = sys.stderr.isatty()
    before = os.environ.get(NOTEBOOK_VARIABLE)
    os.environ[NOTEBOOK_VARIABLE] = source.stem  # the kernel's progress lines name it
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters=parameters,
            kernel_name=kernel_name(),
            cwd=str(source.parent),
            # the bar names its notebook (two may run at once); off a terminal, a line a
            # minute rather than one per cell
            progress_bar={"desc": source.stem, "mininterval": 0.5 if interactive else 60,
                          "leave": interactive},
            kernel_manager_class=QuietKernelManager,
        )
    except papermill.PapermillExecutionError as err:
        raise NotebookFailed(f"{err.ename}: {err.evalue} (cell [{err.exec_count}])") from err
    except Exception as err:
        raise NotebookFailed(f"{type(err).__name__}: {err}") from err
    finally:
        if before is None:
            os.environ.pop(NOTEBOOK_VARIABLE, None)
        else:
            os.environ[NOTEBOOK_VARIABLE] = before


@dataclass
class Plan:
    """Whether one notebook needs to run, and why."""

    notebook: str
    profile: str
    params: NotebookParams
    parts: dict[str, str]
    fingerprint: str
    up_to_date: bool
    reason: str
    previous: dict[str, Any] = field(default_factory=dict)

    @property
    def expected_seconds(self) -> float | None:
        """Wall time of the last finished run (even one with another fingerprint)."""
        return self.previous.get("wall_seconds", self.previous.get("estimate_seconds"))


def outputs_problem(record: Mapping[str, Any], notebook: str, profile: str) -> str | None:
    """Why a recorded run's outputs can no longer be trusted; None if they are all in place."""
    if not report_path(notebook, profile).is_file():
        return "its executed notebook is missing"
    recorded = record.get("results_sha256")
    if recorded is not None and file_sha256(paths.results_path(profile, notebook)) != recorded:
        return "its results file changed since the run"
    if record.get("store") is None or record.get("store") != store_id(profile):
        return "the artifact store it used is not here (fresh checkout or cleaned artifacts)"
    if notebook in WORLD_OWNERS and not world_is_whole(profile):
        return "the world it built is missing or damaged"
    return None


WORLD_OWNERS = ("01_data",)  # notebooks whose output includes artifacts/<profile>/world


def world_is_whole(profile: str) -> bool:
    """Whether the profile's world folder is complete and undamaged (see ``newsstudy.world.data``)."""
    from newsstudy.world.data import complete_world_hash

    return complete_world_hash(paths.world_dir(profile)) is not None


def plan_run(
    notebook: str,
    profile: str,
    params: NotebookParams,
    runs: Mapping[str, Mapping[str, Any]] | None = None,
    order: Sequence[str] | None = None,
    package: PackageCode | None = None,
) -> Plan:
    """Compare a notebook's fingerprint and outputs with its last successful run."""
    runs = load_runs(profile) if runs is None else runs
    order = profile_notebooks(profile) if order is None else order
    parts = {
        "code": code_hash(notebook, package),
        "params": params_hash(params),
        "inputs": inputs_hash(notebook, order, runs),
    }
    previous = dict(runs.get(notebook, {}))
    current = fingerprint(parts)
    if not previous:
        reason = "never run"
    elif previous.get("incomplete"):
        reason = f"the run started {previous.get('started', '?')} did not finish"
    elif previous.get("fingerprint") != current:
        recorded = previous.get("parts", {})
        changed = [name for name in ("code", "params", "inputs") if recorded.get(name) != parts[name]]
        labels = {"code": "code changed", "params": "parameters changed",
                  "inputs": "an earlier notebook's output changed"}
        reason = ", ".join(labels[name] for name in changed) or "fingerprint changed"
    else:
        reason = outputs_problem(previous, notebook, profile) or "up to date"
    return Plan(notebook, profile, params, parts, current, reason == "up to date", reason, previous)


def make_record(plan: Plan, overrides: Mapping[str, Any], started: str, seconds: float) -> dict:
    """The ``runs.json`` record of a successful run."""
    return {
        "fingerprint": plan.fingerprint,
        "parts": plan.parts,
        "params_hash": plan.parts["params"],
        "params": plan.params.model_dump(),
        "overrides": dict(overrides),
        "seed": plan.params.seed,
        "started": started,
        "finished": utc_now(),
        "wall_seconds": round(seconds, 2),
        "results_sha256": file_sha256(paths.results_path(plan.profile, plan.notebook)),
        "store": store_id(plan.profile),
        "machine": machine(),
        "packages": package_versions(),
        **git_state(),
    }


# --- running ---------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(report: Path) -> None:
    """Delete partial outputs ``.<notebook>.<pid>.tmp.ipynb`` left by killed runs."""
    for partial in report.parent.glob(f".{report.stem}.*.tmp.ipynb"):
        pid = partial.name[len(report.stem) + 2: -len(".tmp.ipynb")]
        if pid.isdigit() and not pid_alive(int(pid)):
            partial.unlink(missing_ok=True)


def outputs_written_since(profile: str, notebook: str, since: float) -> list[Path]:
    """Files of a notebook's outputs modified at or after ``since`` (a ``time.time()``).

    Outputs: its results file, its tables and figures (named ``<notebook prefix>_*``) and
    the profile's published policies. A failed run that wrote none of them left the last
    finished run's outputs as they were, so that run's record can stand.
    """
    prefix = notebook.split("_", 1)[0] + "_"
    report_root = paths.report_dir(profile)
    candidates = [paths.results_path(profile, notebook)]
    for folder in ("tables", "figures"):
        candidates += sorted((report_root / folder).glob(f"{prefix}*"))
    candidates += sorted((paths.profile_artifacts(profile) / "published").glob("*"))
    return [path for path in candidates
            if path.is_file() and path.stat().st_mtime >= since - 1.0]


def children_cpu_seconds() -> float:
    """CPU seconds (user and system) used so far by this process's finished children and
    theirs: a notebook's kernel and its training workers, once each has exited."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute_plan(plan: Plan, overrides: Mapping[str, Any] | None = None) -> Path:
    """Run a planned notebook; record it in ``runs.json`` once its report is in place."""
    notebook, profile = plan.notebook, plan.profile
    variant = paths.active_variant()
    if variant is not None and variants.base_of(variant) != profile:
        variant = None
    source = notebook_source(notebook)
    report = report_path(notebook, profile)
    report.parent.mkdir(parents=True, exist_ok=True)
    store_id(profile, create=True)
    started, began = utc_now(), time.perf_counter()
    # From here until success no fingerprint vouches for the notebook's outputs; the
    # placeholder keeps the last wall time for the next run's estimate.
    save_record(profile, notebook, {"incomplete": True, "started": started,
                                    "estimate_seconds": plan.expected_seconds})
    remove_stale_partials(report)
    partial = report.with_name(f".{report.stem}.{os.getpid()}.tmp.ipynb")
    written_after = time.time()
    cpu_before = children_cpu_seconds()
    try:
        with PeakMemory() as memory:
            execute(source, partial, papermill_arguments(notebook, plan.params, variant))
    except BaseException as err:
        kept = keep_failed(partial, report)
        if restorable(plan.previous) and not outputs_written_since(profile, notebook,
                                                                   written_after):
            save_record(profile, notebook, plan.previous)  # nothing changed: the last run stands
        if isinstance(err, NotebookFailed) and kept is not None:
            raise NotebookFailed(f"{notebook}: {err}; output so far in {kept}") from err
        raise
    make_portable(partial, source, report)
    os.replace(partial, report)
    failed_path(report).unlink(missing_ok=True)
    record = make_record(plan, overrides or {}, started, time.perf_counter() - began)
    record["peak_rss_gb"] = round(memory.peak_bytes / 1e9, 3)
    record["peak_pss_gb"] = round(memory.peak_pss_bytes / 1e9, 3)
    record["largest_process_rss_gb"] = round(memory.largest_bytes / 1e9, 3)
    record["cpu_seconds"] = round(children_cpu_seconds() - cpu_before, 1)
    record["kernel_threads"] = os.environ.get("OMP_NUM_THREADS", "all")
    record["niceness"] = os.nice(0)
    save_record(profile, notebook, record)
    return report


def run_notebook(
    notebook: str,
    profile: str,
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
    log: Log | None = None,
    variant: str | None = None,
) -> Path:
    """Validate, then execute one notebook under a profile unless it is up to date.

    Returns the report's path (the existing one when skipped). ``ParamsError`` before
    anything runs if the notebook, profile, a parameter or the variant name is wrong;
    ``NotebookFailed`` if execution fails (the previous report stays as it was, without a
    record). ``force`` runs it even if up to date. When ``overrides`` change any value
    of the profile's, or a ``variant`` name is given, the run writes to the variant
    ``reports/<profile>+<name>/`` (:mod:`newsstudy.variants`), never into the profile.
    """
    params = load_params(notebook, profile, overrides)
    notebook_source(notebook)
    base = load_params(notebook, profile) if overrides else params
    changed = variants.changed_values(params.model_dump(), base.model_dump())
    try:
        chosen = variants.choose(profile, changed, variant)
    except variants.VariantError as err:
        raise ParamsError(str(err)) from None
    check_model_available(notebook, profile, params, overrides)
    if not force:
        check_memory(notebook, profile, params, overrides)
    with variants.active(chosen):
        if chosen is not None:
            copied = variants.prepare(chosen, notebook, profile_notebooks(profile), changed)
            if log is not None:
                log(f"{notebook}: writing to variant {chosen} (reports/{chosen}/); from "
                    f"{profile}: {', '.join(copied) or 'nothing new'} copied, its world and "
                    f"checkpoints linked")
        plan = plan_run(notebook, profile, params)
        if plan.up_to_date and not force:
            if log is not None:
                log(f"{notebook} ({paths.output_name(profile)}): up to date, skipped "
                    f"(--force re-runs it)")
            return report_path(notebook, profile)
        if log is not None:
            log(f"{notebook} ({paths.output_name(profile)}): {plan.reason}; running"
                + (f" (its last run took {duration(plan.expected_seconds)})"
                   if plan.expected_seconds else ""))
        return execute_plan(plan, overrides)


def default_jobs() -> int:
    """Notebooks ``reproduce`` runs at once unless told: the machine's cores, at most 2."""
    return max(1, min(2, os.cpu_count() or 1))


BACKGROUND_NICENESS = 10
"""The niceness of a notebook that runs beside one with a longer chain of work ahead of it
(:func:`in_background`). Where the kernel schedules processes by niceness alone, the
scheduler gives it about a tenth of a core that the other wants, and any core the other
leaves idle. Where it groups processes by session first (Linux's autogroup, on by default
on desktop distributions and on the machine the budgets were measured on), niceness only
orders the processes of one session, and each notebook's kernel runs in a session of its
own: the two kernels then share the cores equally, and the background notebook holds one
core of two (measured: 03_grpo and the notebooks beside it each held one core for the 12
minutes 03_grpo ran). The budgets were measured that way."""


def in_background(notebook: str, order: Sequence[str], seconds: Mapping[str, float],
                  running: Sequence[str]) -> bool:
    """Whether ``notebook`` should start at low CPU priority: some notebook already
    ``running`` has a longer chain of work ahead of it (its ``seconds`` still to run plus
    the longest chain of notebooks that need it, :func:`graph.downstream_seconds`) than
    ``notebook`` has (its own ``seconds`` plus the chain after it). The longest chain is
    the run's critical path; a notebook off it can only delay the run by taking cores from
    it, so it takes what the critical path leaves (03b_baselines, 02_rewards and
    01b_sensitivity beside 03_grpo)."""
    chain = graph.downstream_seconds(order, seconds)
    return any(chain[other] > chain[notebook] for other in running)


def kernel_threads(notebook: str, order: Sequence[str], jobs: int,
                   beside: Sequence[str] = (), waiting: Sequence[str] = (),
                   background: bool = False) -> int | None:
    """Threads a notebook's kernel may use when ``jobs`` notebooks run at once.

    None (the libraries' own default: all cores) when ``jobs`` is 1; when the notebook
    starts with nothing ``beside`` it (other than notebooks in the background) and either
    every notebook still ``waiting`` needs it, so that nothing can start until it ends
    (01_data at the start, 06_ab_simulation at the end), or it is not itself in the
    ``background`` (then what runs beside it yields the cores it wants,
    :data:`BACKGROUND_NICENESS`). Otherwise the cores divided among the jobs, at least 1,
    so that two kernels do not oversubscribe the cores. Thread counts change speed, not
    results: a serial and a parallel run of the smoke profile write the same numbers
    (``benchmarks/bench_parallel_reproduce.py``).
    """
    if jobs <= 1:
        return None
    if not beside and (not background or all(notebook in graph.inputs_of(name, order)
                                             for name in waiting)):
        return None
    return max(1, (os.cpu_count() or 1) // jobs)


def execute_with_threads(plan: Plan, threads: int | None, niceness: int = 0) -> Path:
    """:func:`execute_plan` in this (worker) process, its kernel limited to ``threads``
    OpenMP/BLAS threads (the kernel inherits the environment; None leaves them as they
    are) and run at ``niceness`` (added to this process's, which the kernel and its
    workers inherit; a raised niceness cannot be lowered again without privileges, so
    :func:`worker_pool` starts a fresh process for each notebook)."""
    if threads is not None:
        from newsstudy.parallel import THREAD_VARIABLES

        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
    if niceness:
        os.nice(niceness)
    return execute_plan(plan)


def worker_pool(jobs: int):
    """The pool of ``jobs`` spawned processes that runs notebooks side by side."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from newsstudy.parallel import exit_with_parent

    # a fresh process per notebook: a background notebook's raised niceness stays with
    # its process, and must not pass to the next notebook; a worker ends (with its
    # kernel) when reproduce does, so a killed run leaves no process behind
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               max_tasks_per_child=1, initializer=exit_with_parent)


def check_reproducible(profile: str, force: bool) -> tuple[list[str], dict[str, NotebookParams]]:
    """The profile's notebooks and their validated parameters; ``ParamsError`` (before
    anything runs) on a bad params file, a missing notebook or model, a graph whose needs
    come after the notebook, or (unless ``force``) a run that would not fit in memory."""
    names = profile_notebooks(profile)
    try:
        graph.check_order(names)
    except ValueError as err:
        raise ParamsError(f"profile {profile}: {err}") from err
    all_params = {name: load_params(name, profile) for name in names}
    for name in names:
        notebook_source(name)
        check_model_available(name, profile, all_params[name])
        if not force:
            check_memory(name, profile, all_params[name])
    return names, all_params


def reproduce(profile: str, force: bool = False, log: Log = print,
              jobs: int | None = None) -> list[Path]:
    """Run every notebook of a profile, skipping those up to date, ``jobs`` at a time.

    All params files are validated first, so a bad value in the last notebook's file
    stops the run before the first notebook starts. A notebook starts once every notebook
    it needs (:mod:`newsstudy.run.graph`) has finished; among those ready, the one with
    the longest chain of work after it starts first. With ``jobs`` above 1 the notebooks
    run in worker processes, each kernel on its share of the cores
    (:func:`kernel_threads`); ``jobs`` 1, or a profile whose notebooks form one chain,
    runs them one after the other in this process.
    Each line of progress names the notebook, the time spent so far and an estimate of
    what remains (the longest remaining chain of recorded wall times). If a notebook
    fails, those that need it do not start, the others finish, and ``NotebookFailed``
    names every failure. The whole run is recorded in ``runs.json`` under ``reproduce``.
    Returns the paths of the executed notebooks (run now or earlier), in run order.
    """
    jobs = default_jobs() if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParamsError(f"jobs must be a positive integer, got {jobs!r}")
    names, all_params = check_reproducible(profile, force)
    if not any(graph.unrelated(name, names) for name in names):
        jobs = 1  # a chain: nothing can run beside anything else
    left_out = [name for name in notebooks() if name not in names]
    if left_out:
        log(f"profile {profile} runs {', '.join(names)}; skips {', '.join(left_out)} "
            f"(not listed in {display_path(profile_file(profile))})")
    run = ProfileRun(profile, names, all_params, force, log, jobs)
    return run.all()


class ProfileRun:
    """One ``reproduce``: the scheduling state of a profile's notebooks."""

    def __init__(self, profile: str, names: list[str], all_params: dict[str, NotebookParams],
                 force: bool, log: Log, jobs: int):
        self.profile, self.names, self.all_params = profile, names, all_params
        self.force, self.log, self.jobs = force, log, jobs
        self.package = package_code()
        self.done: list[str] = []
        self.ran: list[str] = []
        self.failed: dict[str, BaseException] = {}
        self.pending = list(names)
        self.running: dict[Any, tuple[str, float]] = {}
        self.background: list[str] = []  # notebooks started at BACKGROUND_NICENESS
        self.early: dict[Any, tuple[int, float]] = {}  # running early builds: index, start
        self.early_done: dict[str, dict] = {}  # finished early builds, by notebook
        self.early_deferred: set[str] = set()  # early builds waiting for memory
        self.start = time.perf_counter()
        self.started_at = utc_now()

    def head(self, name: str) -> str:
        return f"[{self.names.index(name) + 1}/{len(self.names)}] {name} ({self.profile})"

    def seconds(self, runs: Mapping[str, Mapping] | None = None) -> dict[str, float | None]:
        """Each notebook's expected wall time, from its last recorded run (None: never timed)."""
        runs = load_runs(self.profile) if runs is None else runs
        return {name: runs.get(name, {}).get("wall_seconds",
                                             runs.get(name, {}).get("estimate_seconds"))
                for name in self.names}

    def left(self) -> str:
        """Estimate of the time left: the longest chain of recorded wall times through the
        notebooks still to run (those up to date count nothing; a running one, what its
        last run took beyond the time it has run)."""
        runs = load_runs(self.profile)
        unfinished = [name for name, _ in self.running.values()] + [
            name for name in self.pending if self.force or not plan_run(
                name, self.profile, self.all_params[name], runs, self.names,
                self.package).up_to_date]
        if not unfinished:
            return "nothing left"
        recorded = self.seconds(runs)
        if all(recorded[name] is None for name in unfinished):
            return "time left unknown"
        now = time.perf_counter()
        began = {name: start for name, start in self.running.values()}
        seconds = {name: max(0.0, float(recorded[name] or 0.0) - (now - began.get(name, now)))
                   if name in unfinished else 0.0 for name in self.names}
        longest = max(graph.downstream_seconds(self.names, seconds)[name] for name in unfinished)
        never = sum(recorded[name] is None for name in unfinished)
        text = f"about {duration(longest)} left"
        return text + (f" (+{never} notebook{'s' if never > 1 else ''} never timed)" if never else "")

    def ready(self) -> list[str]:
        """Pending notebooks whose needs have all finished, longest chain first."""
        building = {EARLY_BUILDS[index].notebook for index, _ in self.early.values()}
        ready = [name for name in self.pending if name not in building
                 and all(need in self.done for need in graph.direct_needs(name, self.names))]
        return graph.critical_order(ready, self.names, self.expected_seconds())

    def expected_seconds(self) -> dict[str, float]:
        """Each notebook's expected wall time (:meth:`seconds`); a notebook never timed
        counts as the mean of those timed (all equal if none is)."""
        recorded = self.seconds()
        known = [float(value) for value in recorded.values() if value]
        unknown = sum(known) / len(known) if known else 1.0
        return {name: float(value) if value else unknown for name, value in recorded.items()}

    def in_background(self, name: str) -> bool:
        """Whether ``name`` starts in the background (:func:`in_background`), given the
        time the running notebooks have left."""
        seconds = self.expected_seconds()
        now = time.perf_counter()
        for other, began in self.running.values():
            seconds[other] = max(0.0, seconds[other] - (now - began))
        return in_background(name, self.names, seconds,
                             [other for other, _ in self.running.values()])

    def blocked(self) -> list[str]:
        """Pending notebooks that need a notebook that failed (directly or through another)."""
        return [name for name in self.pending
                if set(graph.inputs_of(name, self.names)) & set(self.failed)]

    def plan(self, name: str) -> Plan:
        return plan_run(name, self.profile, self.all_params[name], load_runs(self.profile),
                        self.names, self.package)

    def skip_or_start(self, name: str, start: Callable[[str, Plan], None]) -> bool:
        """Skip ``name`` if it is up to date (True), else start it."""
        plan = self.plan(name)
        left = self.left()  # with this notebook still counted
        self.pending.remove(name)
        if plan.up_to_date and not self.force:
            self.log(f"{self.head(name)}: up to date, skipped (last run "
                     f"{duration(plan.expected_seconds)}, finished "
                     f"{plan.previous.get('finished', '?')})")
            self.done.append(name)
            return True
        why = "forced" if self.force and plan.up_to_date else plan.reason
        beside = [other for other, _ in self.running.values()]
        self.log(f"{self.head(name)}: running ({why}"
                 f"{'; beside ' + ', '.join(beside) if beside else ''}); last run took "
                 f"{duration(plan.expected_seconds)}; elapsed "
                 f"{duration(time.perf_counter() - self.start)}, {left}")
        start(name, plan)
        return False

    def finished(self, name: str, began: float) -> None:
        self.done.append(name)
        self.ran.append(name)
        now = time.perf_counter()
        self.log(f"{self.head(name)}: done in {duration(now - began)}; elapsed "
                 f"{duration(now - self.start)}, {self.left()}")

    def all(self) -> list[Path]:
        """Run the profile; the executed notebooks' report paths in run order."""
        if self.jobs == 1:
            self.serially()
        else:
            self.in_parallel()
        for name in self.blocked():
            self.log(f"{self.head(name)}: not run (it needs {', '.join(sorted(set(graph.inputs_of(name, self.names)) & set(self.failed)))}, which failed)")
        if self.failed:
            errors = list(self.failed.values())
            if len(errors) == 1:
                raise errors[0]
            raise NotebookFailed("; ".join(str(error) for error in errors)) from errors[0]
        save_reproduce(self.profile, {
            "started": self.started_at, "finished": utc_now(),
            "wall_seconds": round(time.perf_counter() - self.start, 2), "jobs": self.jobs,
            "ran": self.ran, "background": self.background, "early_builds": self.early_done,
            "skipped": [name for name in self.done if name not in self.ran],
            "force": self.force, **git_state()})
        return [report_path(name, self.profile) for name in self.names if name in self.done]

    def fill(self, start: Callable[[str, Plan], None]) -> None:
        """Start ready notebooks (longest chain first) until ``jobs`` run or none is ready;
        each skip is followed by a fresh look, since it can make others ready."""
        while len(self.running) < self.jobs and not (self.failed and self.jobs == 1):
            ready = self.ready()
            if not ready:
                return
            self.skip_or_start(ready[0], start)

    def collect(self, futures) -> None:
        """Record the notebooks whose worker processes returned."""
        for future in futures:
            name, began = self.running.pop(future)
            try:
                future.result()
            except NotebookFailed as err:
                self.failed[name] = err
                self.log(f"{self.head(name)}: failed: {err}")
                continue
            self.finished(name, began)

    def start_early_builds(self, pool) -> None:
        """Start each early build (:mod:`newsstudy.run.early`) whose notebook is still to
        run and whose needs have finished."""
        started = {index for index, _ in self.early.values()}
        for index, build in enumerate(EARLY_BUILDS):
            if (index in started or build.notebook in self.early_done
                    or build.notebook not in self.pending
                    or not all(need in self.done for need in build.needs if need in self.names)):
                continue
            need = memory_estimate(build.notebook, self.all_params[build.notebook])
            have = available_memory_bytes()
            if need is not None and have is not None and have < need:
                if build.notebook not in self.early_deferred:
                    self.early_deferred.add(build.notebook)
                    self.log(f"{self.head(build.notebook)}: {build.what} waits to be built "
                             f"early: it needs about {need / 1e9:.1f} GB of memory, "
                             f"{have / 1e9:.1f} GB is available")
                continue
            future = pool.submit(run_early_build, index, self.profile,
                                 self.all_params[build.notebook].model_dump())
            self.early[future] = (index, time.perf_counter())
            self.log(f"{self.head(build.notebook)}: building {build.what} early, at the lowest "
                     f"CPU priority (it needs only {', '.join(build.needs)})")

    def collect_early(self, futures) -> None:
        """Record the early builds that ended; one that failed is left to its notebook."""
        for future in futures:
            index, began = self.early.pop(future)
            build = EARLY_BUILDS[index]
            try:
                record = future.result()
            except Exception as err:  # the notebook builds it again and reports the error
                self.log(f"{self.head(build.notebook)}: the early build of {build.what} "
                         f"failed ({type(err).__name__}: {err}); the notebook will build it")
                record = {"failed": f"{type(err).__name__}: {err}",
                          "wall_seconds": round(time.perf_counter() - began, 2)}
            else:
                self.log(f"{self.head(build.notebook)}: {build.what} built early in "
                         f"{duration(record['wall_seconds'])} ({record['cpu_seconds']:.0f} s "
                         f"of CPU)")
            self.early_done[build.notebook] = {"what": build.what, **record}

    def serially(self) -> None:
        """Run the notebooks one at a time, in this process; stop at the first failure."""
        def start(name: str, plan: Plan) -> None:
            began = time.perf_counter()
            try:
                execute_plan(plan)
            except NotebookFailed as err:
                self.failed[name] = err
                return
            self.finished(name, began)

        self.fill(start)

    def in_parallel(self) -> None:
        """Run up to ``jobs`` notebooks at once, each in a worker process."""
        from concurrent.futures import FIRST_COMPLETED, wait

        with worker_pool(self.jobs) as pool, early_pool(len(EARLY_BUILDS)) as early:
            def start(name: str, plan: Plan) -> None:
                background = self.in_background(name)
                if background:
                    self.background.append(name)
                beside = [other for other, _ in self.running.values()
                          if other not in self.background]
                threads = kernel_threads(name, self.names, self.jobs, beside, self.pending,
                                         background)
                if background:
                    self.log(f"{self.head(name)}: in the background (niceness "
                             f"{BACKGROUND_NICENESS}, {threads or 'all'} thread"
                             f"{'s' if threads != 1 else ''}): "
                             f"{', '.join(beside)} {'has' if len(beside) == 1 else 'have'} "
                             f"the longer chain of work ahead")
                future = pool.submit(execute_with_threads, plan, threads,
                                     BACKGROUND_NICENESS if background else 0)
                self.running[future] = (name, time.perf_counter())

            try:
                while True:
                    self.start_early_builds(early)
                    self.fill(start)
                    if not self.running and not self.early:
                        return
                    finished, _ = wait([*self.running, *self.early],
                                       return_when=FIRST_COMPLETED)
                    self.collect([future for future in finished if future in self.running])
                    self.collect_early([future for future in finished if future in self.early])
            except BaseException:
                for future in [*self.running, *self.early]:
                    future.cancel()
                raise
