"""Executed notebooks that carry no machine's paths.

An executed notebook records where papermill read and wrote it, and its outputs can hold
absolute paths (a log line naming a folder, a warning naming a library file). Those say
nothing about the study and differ between two checkouts of the same code, so the runner
rewrites them before the report moves into place: papermill's ``input_path`` and
``output_path`` become the notebook's and the report's paths relative to the project (the
report's under its final name), and every text output has the machine's roots replaced by
names that hold anywhere (:func:`scrub`). Results files record their paths relative to
their root themselves (:func:`newsstudy.paths.portable`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from newsstudy import paths
from newsstudy.io import write_text


def roots() -> list[tuple[str, str]]:
    """``(absolute prefix, what replaces it)``, longest prefix first: the artifacts, data
    and reports roots, the project, and the Python installation."""
    named = [(paths.artifacts_root(), "artifacts/"), (paths.data_root(), "artifacts/data/"),
             (paths.reports_root(), "reports/"), (paths.PROJECT_ROOT, ""),
             (Path(sys.prefix), "<python>/"), (Path(sys.base_prefix), "<python>/")]
    pairs = {str(root.resolve()) + "/": name for root, name in named}
    pairs.update({str(root) + "/": name for root, name in named})  # as given, unresolved
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def scrub(text: str, prefixes: list[tuple[str, str]] | None = None) -> str:
    """``text`` with every machine root replaced (see :func:`roots`).

    >>> scrub(str(paths.PROJECT_ROOT / "notebooks" / "01_data.ipynb"))
    'notebooks/01_data.ipynb'
    """
    for prefix, name in roots() if prefixes is None else prefixes:
        text = text.replace(prefix, name)
    return text


def _scrub_value(value, prefixes):
    if isinstance(value, str):
        return scrub(value, prefixes)
    if isinstance(value, list):
        return [_scrub_value(item, prefixes) for item in value]
    if isinstance(value, dict):
        return {key: _scrub_value(item, prefixes) for key, item in value.items()}
    return value


def make_portable(executed: Path, source: Path, report: Path) -> None:
    """Rewrite the executed notebook at ``executed`` (papermill's output for ``source``,
    to be moved to ``report``) so that it names no absolute path (see the module doc)."""
    import nbformat

    notebook = json.loads(executed.read_text(encoding="utf-8"))
    prefixes = roots()
    papermill = notebook.get("metadata", {}).get("papermill")
    if isinstance(papermill, dict):
        papermill["input_path"] = scrub(str(source.resolve()), prefixes)
        papermill["output_path"] = scrub(str(report.resolve()), prefixes)
    for cell in notebook.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = _scrub_value(cell["outputs"], prefixes)
    write_text(executed, nbformat.writes(nbformat.from_dict(notebook)))
