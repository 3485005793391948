"""One place for every path the study uses.

Paths resolve from the package location, never from the current directory. Three
environment variables move the writable roots elsewhere (tests use them to keep the
working tree clean):

- ``NEWSSTUDY_ARTIFACTS``: cached worlds, models and other expensive outputs.
- ``NEWSSTUDY_DATA``: downloaded raw data and embedding caches (shared by all profiles).
- ``NEWSSTUDY_REPORTS``: executed notebooks, results, tables and figures.

A fourth, ``NEWSSTUDY_VARIANT``, names the *variant* a run writes to (``default+lr=0.001``):
while it is set, the folders of its base profile, and of profiles derived from it
(``default-ab``), resolve to ``reports/<profile>+<name>/`` and ``artifacts/<profile>+<name>/``
instead, so a run whose parameters differ from its profile's never writes into that
profile (:mod:`newsstudy.variants` sets it and fills the variant with the base's
upstream work).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
PARAMS_DIR = PROJECT_ROOT / "params"


def _root_from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).resolve() if value else default


VARIANT_VARIABLE = "NEWSSTUDY_VARIANT"
VARIANT_MARK = "+"


def active_variant() -> str | None:
    """The variant runs in this process write to (``<profile>+<name>``), or None."""
    value = os.environ.get(VARIANT_VARIABLE, "")
    return value if VARIANT_MARK in value else None


def split_variant(name: str) -> tuple[str, str | None]:
    """``("default", "lr=0.1")`` for ``default+lr=0.1``; ``(name, None)`` for a profile."""
    base, mark, variant = name.partition(VARIANT_MARK)
    return base, (variant if mark else None)


def derives_from(profile: str, base: str) -> bool:
    """Whether ``profile`` is ``base`` or a profile derived from it (``default-ab``)."""
    return profile == base or profile.startswith(f"{base}-")


def output_name(profile: str) -> str:
    """The folder name of ``profile``'s outputs: ``profile`` itself, or, while a variant
    of it (or of the profile it derives from, ``default`` for ``default-ab``) is active,
    ``<profile>+<variant name>``. A name that already names a variant is kept."""
    variant = active_variant()
    if variant is None or VARIANT_MARK in profile:
        return profile
    base, name = split_variant(variant)
    return f"{profile}{VARIANT_MARK}{name}" if derives_from(profile, base) else profile


def artifacts_root() -> Path:
    """Root of cached, regenerable artifacts (outside git)."""
    return _root_from_env("NEWSSTUDY_ARTIFACTS", PROJECT_ROOT / "artifacts")


def data_root() -> Path:
    """Root of downloaded raw data, embedding and model caches, shared by all profiles.

    Independent of ``NEWSSTUDY_ARTIFACTS`` so that runs with throwaway artifact folders
    (tests) still share the one-time downloads and embeddings.
    """
    return _root_from_env("NEWSSTUDY_DATA", PROJECT_ROOT / "artifacts" / "data")


def reports_root() -> Path:
    """Root of executed notebooks and their results, one folder per profile."""
    return _root_from_env("NEWSSTUDY_REPORTS", PROJECT_ROOT / "reports")


def profile_artifacts(profile: str) -> Path:
    """Artifacts of one profile, e.g. ``artifacts/default/`` (its variant's while one is
    active, :func:`output_name`)."""
    return artifacts_root() / output_name(profile)


def world_dir(profile: str) -> Path:
    """Where notebook 01_data writes the simulated world of a profile."""
    return profile_artifacts(profile) / "world"


def report_dir(profile: str) -> Path:
    """Executed notebooks of a profile, e.g. ``reports/default/`` (its variant's while one
    is active, :func:`output_name`)."""
    return reports_root() / output_name(profile)


def results_path(profile: str, notebook: str) -> Path:
    """The key numbers of one notebook: ``reports/<profile>/results/<notebook>.json``."""
    return report_dir(profile) / "results" / f"{notebook}.json"


def tables_dir(profile: str) -> Path:
    """CSV and Markdown tables of a profile."""
    return report_dir(profile) / "tables"


def figures_dir(profile: str) -> Path:
    """PNG (and SVG) figures of a profile."""
    return report_dir(profile) / "figures"


def portable(path: str | Path) -> str:
    """A path as results record it, valid on any machine: relative to the artifacts root
    when it lies there (how :func:`newsstudy.policy.published.load_published` resolves a
    checkpoint), else to the reports root, else to the project; any other path as given.

    >>> portable(artifacts_root() / "default" / "models" / "m")
    'default/models/m'
    """
    resolved = Path(path).resolve()
    for root in (artifacts_root(), reports_root(), PROJECT_ROOT):
        if resolved.is_relative_to(root.resolve()):
            return resolved.relative_to(root.resolve()).as_posix()
    return str(path)
