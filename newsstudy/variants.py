"""Variants: a run whose parameters differ from its profile's writes beside the profile.

An analyst who runs ``newsstudy run 03_grpo --profile default -p grpo_learning_rate=0.001``,
points papermill at a params file of their own, or types ``-p`` on plain papermill does
not run *the* default profile, so the run must not replace what the default profile's
later notebooks read and what its report shows. Such a run writes to a **variant**:
``reports/default+<name>/`` and ``artifacts/default+<name>/``, named by the user
(``--variant NAME``, or ``-p variant NAME`` under papermill) or after the values that
changed (``default+grpo_learning_rate=0.001``).

A variant starts from its base profile's work: before a notebook runs in it, the results,
tables, figures, executed notebooks and run records of the notebooks that come before it
in the profile (and that the variant has not run itself) are copied in, and the base's
world and cached checkpoints are linked, so the variant re-trains nothing whose
configuration is unchanged (checkpoints are stored by the hash of their configuration).
``reports/<variant>/variant.json`` records the base and, per notebook, each changed value
beside the base's; the report of a variant shows it.

While a variant is active (:func:`activate`, the environment variable
:data:`newsstudy.paths.VARIANT_VARIABLE`), :mod:`newsstudy.paths` resolves the base
profile's folders to the variant's; kernels and training workers inherit it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from newsstudy import paths
from newsstudy.io import read_json, write_json

MANIFEST = "variant.json"
NAME_PATTERN = re.compile(r"[A-Za-z0-9._=,-]+")
MAX_NAME = 64
# Folders of a profile's artifacts whose entries are caches keyed by their content's
# configuration: a variant links each entry and writes new ones beside them.
CACHE_FOLDERS = ("models", "ab")


class VariantError(ValueError):
    """A variant name that cannot name a folder (the message names it and the rule)."""


def changed_values(params: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{key: [base value, value]}`` for every parameter whose value differs from the base's."""
    return {key: [base.get(key), value] for key, value in params.items()
            if key != "profile" and base.get(key) != value}


def derived_name(changed: Mapping[str, list[Any]]) -> str:
    """A folder-safe name for a variant from its changed values, e.g.
    ``grpo_learning_rate=0.001`` or ``n_users=50,seed=3``; a long one is shortened to the
    first key and a hash of them all."""
    parts = []
    for key in sorted(changed):
        value = changed[key][1]
        text = value if isinstance(value, str) else repr(value)
        parts.append(f"{key}={re.sub(r'[^A-Za-z0-9._-]+', '_', text).strip('_') or '_'}")
    name = ",".join(parts)
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{sorted(changed)[0][:40]},and-{len(changed) - 1}-more-{digest}"


def check_name(name: str) -> str:
    """``name`` if it can name a variant folder; ``VariantError`` naming the rule if not."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME:
        raise VariantError(f"variant: {name!r} is not a variant name (letters, digits and "
                           f"._=,- only, at most {MAX_NAME} characters)")
    return name


def full_name(profile: str, name: str) -> str:
    """The variant's folder name, ``<profile>+<name>``."""
    return f"{profile}{paths.VARIANT_MARK}{check_name(name)}"


def choose(profile: str, changed: Mapping[str, list[Any]], given: str | None) -> str | None:
    """The variant a run writes to: the ``given`` name, else one derived from the
    ``changed`` values; None (the profile itself) when nothing changed and none was given."""
    if given:
        return full_name(profile, given)
    if changed:
        return full_name(profile, derived_name(changed))
    return None


def activate(variant: str | None) -> None:
    """Make this process (and the processes it starts) write to ``variant``
    (``<profile>+<name>``); None makes them write to the profiles themselves."""
    if variant is None:
        os.environ.pop(paths.VARIANT_VARIABLE, None)
    else:
        os.environ[paths.VARIANT_VARIABLE] = variant


@contextlib.contextmanager
def active(variant: str | None) -> Iterator[None]:
    """:func:`activate` ``variant`` for the block, then restore what was active before."""
    before = os.environ.get(paths.VARIANT_VARIABLE)
    activate(variant)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(paths.VARIANT_VARIABLE, None)
        else:
            os.environ[paths.VARIANT_VARIABLE] = before


def base_of(variant: str) -> str:
    """The profile a variant (``<profile>+<name>``) is a variant of."""
    return paths.split_variant(variant)[0]


def manifest_path(variant: str) -> Path:
    """``reports/<variant>/variant.json``."""
    return paths.reports_root() / variant / MANIFEST


def load_manifest(variant: str) -> dict[str, Any]:
    """The variant's record: its base and each notebook's changed values (empty if none)."""
    path = manifest_path(variant)
    return read_json(path) if path.is_file() else {}


def prepare(variant: str, notebook: str, order: list[str],
            changed: Mapping[str, list[Any]]) -> list[str]:
    """Get ``variant`` ready to run ``notebook``: copy in the base's outputs of the
    notebooks before it in ``order`` that the variant has not run, link the base's world
    and caches, and record ``notebook``'s ``changed`` values. Returns the notebooks copied.
    Nothing of the base is written."""
    profile = base_of(variant)
    base_reports, reports = paths.reports_root() / profile, paths.reports_root() / variant
    upstream = order[: order.index(notebook)] if notebook in order else []
    copied = [name for name in upstream
              if not (reports / "results" / f"{name}.json").exists()
              and (base_reports / "results" / f"{name}.json").is_file()]
    for name in copied:
        copy_outputs(base_reports, reports, name)
    copy_records(base_reports, reports, copied)
    link_artifacts(profile, variant)
    manifest = load_manifest(variant) or {"base": profile, "changed": {}}
    manifest["changed"][notebook] = dict(changed)
    manifest["copied_from_base"] = sorted(set(manifest.get("copied_from_base", [])) | set(copied))
    write_json(manifest_path(variant), manifest)
    return copied


def copy_outputs(source: Path, target: Path, notebook: str) -> None:
    """Copy one notebook's results, executed notebook, tables and figures."""
    prefix = notebook.split("_", 1)[0] + "_"
    files = [source / "results" / f"{notebook}.json", source / f"{notebook}.ipynb"]
    for folder in ("tables", "figures"):
        files += sorted((source / folder).glob(f"{prefix}*"))
    for path in files:
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def copy_records(source: Path, target: Path, notebooks: list[str]) -> None:
    """Copy the base's ``runs.json`` records of ``notebooks`` into the variant's."""
    if not notebooks or not (source / "runs.json").is_file():
        return
    base = read_json(source / "runs.json").get("notebooks", {})
    path = target / "runs.json"
    whole = read_json(path) if path.is_file() else {"format": 1, "profile": target.name,
                                                      "notebooks": {}}
    for name in notebooks:
        if name in base:
            whole["notebooks"][name] = {**base[name], "copied_from": source.name}
    write_json(path, whole)


def link_artifacts(profile: str, variant: str) -> None:
    """Link the base's world (and its derived profiles' worlds, e.g. the A/B world), and
    each entry of its caches, into the variant's artifacts; what the variant has is kept.

    A link is replaced, never written through: :func:`newsstudy.world.data.build_world`
    removes a linked world before it builds another, and checkpoints are saved under a
    new name and moved into place."""
    root = paths.artifacts_root()
    name = paths.split_variant(variant)[1]
    for base in sorted(root.glob(f"{profile}*")):
        if paths.VARIANT_MARK in base.name or not paths.derives_from(base.name, profile):
            continue
        target = root / f"{base.name}{paths.VARIANT_MARK}{name}"
        if (base / "world").is_dir():
            link(base / "world", target / "world")
        for folder in CACHE_FOLDERS:
            for entry in sorted((base / folder).glob("*")) if (base / folder).is_dir() else []:
                if not entry.name.startswith("."):
                    link(entry, target / folder / entry.name)
        published = base / "published"
        for entry in sorted(published.glob("*.json")) if published.is_dir() else []:
            copy = target / "published" / entry.name
            if not copy.exists():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(entry, copy)


def link(source: Path, target: Path) -> None:
    """A relative symbolic link ``target`` -> ``source`` unless ``target`` exists."""
    if target.exists() or target.is_symlink():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(os.path.relpath(source, target.parent), target_is_directory=source.is_dir())
