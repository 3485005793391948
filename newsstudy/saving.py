"""Results leave notebooks as files: JSON key numbers, CSV/Markdown tables, PNG/SVG figures.

``reports/<profile>/results/<notebook>.json``, ``reports/<profile>/tables/<name>.{csv,md}``
and ``reports/<profile>/figures/<name>.{png,svg}``; every write is atomic.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # noqa: E402  (figures are files; no display needed)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from newsstudy import paths  # noqa: E402
from newsstudy.io import atomic_path, write_json, write_text  # noqa: E402
from newsstudy.results import Record, dump  # noqa: E402

PAPER_COLOR = "#999999"
OURS_COLOR = "#1f77b4"


def set_style() -> None:
    """The study's one figure style."""
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "savefig.bbox": "tight",
                         "axes.titleweight": "bold", "svg.hashsalt": "newsstudy"})


def save_figure(fig, profile: str, name: str) -> Path:
    """Save a figure as PNG and SVG under ``reports/<profile>/figures/``; return the PNG."""
    folder = paths.figures_dir(profile)
    for suffix in ("png", "svg"):
        with atomic_path(folder / f"{name}.{suffix}") as tmp:
            # No timestamps in the files: same inputs, same bytes.
            metadata = {"Date": None} if suffix == "svg" else {"Software": None}
            fig.savefig(tmp, format=suffix, metadata=metadata)
    return folder / f"{name}.png"


def save_table(frame: pd.DataFrame, profile: str, name: str, index: bool = False,
               float_format: str = ".3f", markdown: bool = True) -> Path:
    """Save a table as CSV (and Markdown, for tables meant to be read) under
    ``reports/<profile>/tables/``; return the CSV path."""
    folder = paths.tables_dir(profile)
    with atomic_path(folder / f"{name}.csv") as tmp:
        frame.to_csv(tmp, index=index)
    if markdown:
        write_text(folder / f"{name}.md",
                   frame.to_markdown(index=index, floatfmt=float_format) + "\n")
    return folder / f"{name}.csv"


def save_tables(profile: str, tables: Mapping[str, pd.DataFrame | None],
                markdown: bool = True) -> list[Path]:
    """:func:`save_table` for each named table. A table that is None or empty (a part the
    profile skipped, or found nothing) is not written, and an earlier run's file of that
    name is removed, so the report never shows a stale table."""
    written = []
    for name, frame in tables.items():
        if frame is None or frame.empty:
            for suffix in ("csv", "md"):
                (paths.tables_dir(profile) / f"{name}.{suffix}").unlink(missing_ok=True)
        else:
            written.append(save_table(frame, profile, name, markdown=markdown))
    return written


def write_results(profile: str, notebook: str, results: Record) -> Path:
    """Write a notebook's typed results to ``reports/<profile>/results/<notebook>.json``,
    after checking the results contract (``newsstudy.results``)."""
    if not isinstance(results, Record):
        raise TypeError(f"write_results({notebook!r}) takes the notebook's results model "
                        f"(a newsstudy.results.Record), not {type(results).__name__}")
    return write_json(paths.results_path(profile, notebook), dump(results))
