"""A run's fingerprint: the hashes of its code, its parameters and its inputs.

The runner skips a notebook whose fingerprint equals its last successful run's (see
:mod:`newsstudy.run.runner` for the three parts and why each is there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from newsstudy import paths
from newsstudy.io import config_hash, sha256_file
from newsstudy.params import ParamsError
from newsstudy.run import graph
from newsstudy.schemas import NotebookParams

# Package paths (relative to newsstudy/) left out of the code hash: no notebook imports them.
CODE_EXCLUDED = ("report/", "run/runner.py", "run/cli.py", "run/records.py", "run/checks.py",
                 "run/fingerprints.py", "run/graph.py", "run/schedule.py")


def notebook_source(notebook: str) -> Path:
    """``notebooks/<notebook>.ipynb``; ``ParamsError`` if there is no such file."""
    path = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    if not path.is_file():
        raise ParamsError(f"notebook {notebook} has a schema but no file {path}")
    return path


# --- fingerprints ----------------------------------------------------------------------


def package_files() -> list[Path]:
    """The package's ``.py`` files that notebooks can import (``CODE_EXCLUDED`` left out)."""
    files = []
    for path in sorted(paths.PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(paths.PACKAGE_DIR).as_posix()
        if not any(relative == part or relative.startswith(part) for part in CODE_EXCLUDED):
            files.append(path)
    return files


def package_hash() -> str:
    """sha256 over the package source (relative path and bytes of each file)."""
    digest = hashlib.sha256()
    for path in package_files():
        digest.update(path.relative_to(paths.PACKAGE_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_hash(notebook: str, package: str | None = None) -> str:
    """Hash of the notebook's source file and the package source it runs on."""
    source = sha256_file(notebook_source(notebook))
    return config_hash({"notebook": source, "package": package or package_hash()}, length=16)


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
