"""Execute notebooks with papermill into ``reports/<profile>/``.

``run_notebook`` validates everything before it starts a kernel, so a typo costs a
second, not a run. The executed notebook is written beside its destination under a
temporary name and moved into place only on success: a failed run never overwrites the
previous good report, and its partial output is kept as ``<notebook>.failed.ipynb`` for
debugging. ``reproduce`` runs every notebook of a profile in order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.kernelspec import KernelSpecManager

from newsstudy import paths
from newsstudy.params import ParamsError, load_params, notebooks

KERNEL_NAME = "newsstudy"  # registered by `make .venv`
FALLBACK_KERNEL_NAME = "python3"


class NotebookFailed(RuntimeError):
    """A notebook raised while executing (or its kernel could not run it)."""


def kernel_name() -> str:
    """The project's kernel if it is registered, else the default Python kernel."""
    specs = KernelSpecManager().find_kernel_specs()
    return KERNEL_NAME if KERNEL_NAME in specs else FALLBACK_KERNEL_NAME


def notebook_source(notebook: str) -> Path:
    """``notebooks/<notebook>.ipynb``; ``ParamsError`` if there is no such file."""
    path = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    if not path.is_file():
        raise ParamsError(f"notebook {notebook} has a schema but no file {path}")
    return path


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


def execute(source: Path, target: Path, parameters: dict[str, Any]) -> None:
    """Execute ``source`` into ``target`` with papermill; ``NotebookFailed`` on any error.

    Any exception counts as a failure: besides a cell's error, papermill surfaces kernel
    start-up, dead-kernel and timeout errors from several libraries.
    """
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters=parameters,
            kernel_name=kernel_name(),
            cwd=str(source.parent),
            progress_bar=True,
        )
    except papermill.PapermillExecutionError as err:
        raise NotebookFailed(f"{err.ename}: {err.evalue} (cell [{err.exec_count}])") from err
    except Exception as err:
        raise NotebookFailed(f"{type(err).__name__}: {err}") from err


def run_notebook(
    notebook: str,
    profile: str,
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Validate, then execute one notebook under a profile; return the report's path.

    ``ParamsError`` before anything runs if the notebook, profile or a parameter is wrong;
    ``NotebookFailed`` if execution fails (the previous report stays as it was).
    ``force`` will mean "run even if up to date" once unchanged notebooks are skipped;
    today every call executes.
    """
    params = load_params(notebook, profile, overrides)
    source = notebook_source(notebook)
    report = report_path(notebook, profile)
    report.parent.mkdir(parents=True, exist_ok=True)
    partial = report.with_name(f".{report.stem}.{os.getpid()}.tmp.ipynb")
    try:
        execute(source, partial, params.model_dump())
    except BaseException as err:
        kept = keep_failed(partial, report)
        if isinstance(err, NotebookFailed) and kept is not None:
            raise NotebookFailed(f"{notebook}: {err}; output so far in {kept}") from err
        raise
    os.replace(partial, report)
    failed_path(report).unlink(missing_ok=True)
    return report


def reproduce(profile: str, force: bool = False, log: Callable[[str], None] = print) -> list[Path]:
    """Run every notebook of a profile in order; return the reports' paths.

    All params files are validated first, so a bad value in the last notebook's file
    stops the run before the first notebook starts.
    """
    names = notebooks()
    for name in names:
        load_params(name, profile)
    reports = []
    start = time.perf_counter()
    for index, name in enumerate(names, start=1):
        log(f"[{index}/{len(names)}] {name} ({profile})")
        began = time.perf_counter()
        reports.append(run_notebook(name, profile, force=force))
        now = time.perf_counter()
        log(f"[{index}/{len(names)}] {name} done in {now - began:.1f}s (total {now - start:.1f}s)")
    return reports
