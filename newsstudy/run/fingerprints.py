"""A run's fingerprint: the hashes of its code, its parameters and its inputs.

The runner skips a notebook whose fingerprint equals its last successful run's (see
:mod:`newsstudy.run.runner` for the three parts and why each is there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsstudy import paths
from newsstudy.io import config_hash, sha256_file
from newsstudy.params import ParamsError
from newsstudy.run import graph, imports
from newsstudy.schemas import NotebookParams


def notebook_source(notebook: str) -> Path:
    """``notebooks/<notebook>.ipynb``; ``ParamsError`` if there is no such file."""
    path = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    if not path.is_file():
        raise ParamsError(f"notebook {notebook} has a schema but no file {path}")
    return path


# --- fingerprints ----------------------------------------------------------------------


@dataclass(frozen=True)
class PackageCode:
    """The package's source at one moment: its import graph and each module's sha256.
    Read once per ``reproduce`` (:func:`package_code`) and shared by every notebook's
    :func:`code_hash`."""

    graph: dict[str, set[str]]
    digests: dict[str, str]


def package_code() -> PackageCode:
    """The package's import graph and the sha256 of every module file, read now."""
    modules = imports.package_modules()
    return PackageCode(imports.import_graph(),
                       {name: sha256_file(path) for name, path in modules.items()})


def code_modules(notebook: str, package: PackageCode | None = None) -> list[str]:
    """The package modules a notebook runs on: those it imports, directly or through
    others, with the packages above them (:func:`newsstudy.run.imports.notebook_modules`)."""
    package = package_code() if package is None else package
    return sorted(imports.notebook_modules(notebook_source(notebook), package.graph))


def code_hash(notebook: str, package: PackageCode | None = None) -> str:
    """Hash of the notebook's source file and of every package module it runs on
    (:func:`code_modules`): editing any of them, and only those, marks the notebook stale."""
    package = package_code() if package is None else package
    modules = {name: package.digests[name] for name in code_modules(notebook, package)}
    source = sha256_file(notebook_source(notebook))
    return config_hash({"notebook": source, "modules": modules}, length=16)


def params_hash(params: NotebookParams) -> str:
    """The hash ``runs.json`` records for a run's validated parameters."""
    return config_hash(params.model_dump())


def inputs_hash(notebook: str, order: Sequence[str], runs: Mapping[str, Mapping]) -> str:
    """Hash of the recorded runs of the notebooks ``notebook`` reads, directly or through
    another (:func:`newsstudy.run.graph.inputs_of`; for a notebook the graph does not
    declare, every notebook before it in ``order``)."""
    earlier = graph.inputs_of(notebook, order)
    state = {
        name: [runs[name].get("fingerprint"), runs[name].get("results_sha256")]
        if name in runs else None
        for name in earlier
    }
    return config_hash(state, length=16)


def fingerprint(parts: Mapping[str, str]) -> str:
    """The fingerprint of a run from its ``code``, ``params`` and ``inputs`` hashes."""
    return config_hash({key: parts[key] for key in ("code", "params", "inputs")}, length=16)


def file_sha256(path: Path) -> str | None:
    """sha256 of a file, or None if it does not exist."""
    return sha256_file(path) if path.is_file() else None
