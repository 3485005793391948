"""Run records: ``reports/<profile>/runs.json``, the artifact store's id, and each run's
provenance (commit, machine, package versions, peak memory).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import importlib.metadata
import os
import platform
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from newsstudy import paths
from newsstudy.io import read_json, write_json, write_text

RUNS_FILE = "runs.json"
RUNS_FORMAT = 1
STORE_ID_FILE = "store_id"
# Folders whose uncommitted edits make a run's ``git_dirty`` true (they shape the results).
GIT_DIRTY_PATHS = ("newsstudy", "notebooks", "params")
# Distributions whose versions each run records (and the report shows).
PACKAGES = ("newsstudy", "torch", "transformers", "trl", "peft", "accelerate", "tokenizers",
            "sentence-transformers", "model2vec", "faiss-cpu", "numpy", "scipy", "pandas",
            "scikit-learn", "pydantic", "papermill", "matplotlib", "seaborn")


# --- the run records: reports/<profile>/runs.json ------------------------------------


def runs_path(profile: str) -> Path:
    """``reports/<profile>/runs.json``: one record per notebook's last successful run."""
    return paths.report_dir(profile) / RUNS_FILE


def load_runs(profile: str) -> dict[str, dict[str, Any]]:
    """Notebook -> record of its last successful run; empty if nothing was recorded."""
    path = runs_path(profile)
    if not path.is_file():
        return {}
    return dict(read_json(path).get("notebooks", {}))


@contextlib.contextmanager
def runs_lock(profile: str) -> Iterator[None]:
    """Hold an exclusive lock on the folder of ``runs.json`` (``flock`` on the folder
    itself: no lock file is left behind), so that notebooks running at the same time
    (``reproduce --jobs 2``) update the file one at a time."""
    folder = runs_path(profile).parent
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def update_runs(profile: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the whole ``runs.json`` document under :func:`runs_lock` (read,
    change, atomic replace), so that concurrent notebooks do not lose each other's records."""
    with runs_lock(profile):
        path = runs_path(profile)
        whole = read_json(path) if path.is_file() else {}
        whole.update({"format": RUNS_FORMAT, "profile": profile})
        whole.setdefault("notebooks", {})
        change(whole)
        write_json(path, whole)


def save_record(profile: str, notebook: str, record: Mapping[str, Any]) -> None:
    """Set one notebook's record in ``runs.json``."""
    update_runs(profile, lambda whole: whole["notebooks"].__setitem__(notebook, dict(record)))


def save_reproduce(profile: str, record: Mapping[str, Any]) -> None:
    """Set the record of the profile's last whole ``reproduce`` (``runs.json["reproduce"]``)."""
    update_runs(profile, lambda whole: whole.__setitem__("reproduce", dict(record)))


def load_reproduce(profile: str) -> dict[str, Any]:
    """The record of the profile's last whole ``reproduce`` (wall time, jobs, what ran);
    empty if none was recorded."""
    path = runs_path(profile)
    return dict(read_json(path).get("reproduce", {})) if path.is_file() else {}


def store_id(profile: str, create: bool = False) -> str | None:
    """The id of the artifact store ``artifacts/<profile>/``; None if it has none yet."""
    path = paths.profile_artifacts(profile) / STORE_ID_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    if not create:
        return None
    write_text(path, uuid.uuid4().hex + "\n")
    return path.read_text(encoding="utf-8").strip()


# --- provenance of a run ---------------------------------------------------------------


def git_state() -> dict[str, Any]:
    """The commit the code was at, and whether the study's sources had uncommitted edits."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=paths.PROJECT_ROOT, capture_output=True,
                                  text=True, timeout=20, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", *GIT_DIRTY_PATHS)
    return {"git_commit": commit, "git_dirty": None if dirty is None else bool(dirty)}


def machine() -> dict[str, Any]:
    """The machine a run used: platform, Python, CPU count."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }


def package_versions() -> dict[str, str | None]:
    """Installed version of each of ``PACKAGES`` (None if not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def utc_now() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class PeakMemory:
    """Samples the memory of this process's children (the kernel and what it starts), and
    with ``include_self`` of this process too, in a background thread.

    ``peak_bytes`` is the largest sum of resident set sizes (RSS) seen at one time;
    ``peak_pss_bytes`` the largest sum of proportional set sizes (PSS: a page shared by
    ``k`` processes counts ``1/k`` in each), which is what the processes together hold in
    physical memory. Summed RSS counts the libraries every process maps (torch, about
    0.2 GB each) once per process, so a notebook that starts training workers reads
    larger in RSS than it is. ``largest_bytes`` is the largest single process's RSS.
    RSS is sampled every ``interval`` seconds; PSS whenever summed RSS reaches a new peak
    and every ``pss_every`` samples: reading PSS walks a process's page tables (about
    17 ms per GB of memory, 0.12 s for a 7 GB kernel), so reading it at every sample would
    take a quarter of a core from the run it measures. A spike shorter than ``interval``
    can be missed.
    """

    def __init__(self, interval: float = 0.5, pss_every: int = 10, include_self: bool = False):
        import threading

        self.include_self = include_self  # count this process too (work done in-process)
        self.interval = interval
        self.pss_every = max(1, pss_every)
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self.largest_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> list[tuple[int, object]]:
        """(RSS, process) of every child process now."""
        import psutil

        try:
            me = psutil.Process()
            children = [*([me] if self.include_self else []), *me.children(recursive=True)]
        except psutil.Error:
            return []
        sizes = []
        for child in children:
            try:
                sizes.append((child.memory_info().rss, child))
            except psutil.Error:
                continue
        return sizes

    @staticmethod
    def _pss(sizes: list[tuple[int, object]]) -> int:
        """Summed PSS of the sampled processes (RSS where PSS cannot be read)."""
        import psutil

        total = 0
        for rss, child in sizes:
            try:
                total += getattr(child.memory_full_info(), "pss", rss)
            except psutil.Error:
                total += rss
        return total

    def _run(self) -> None:
        count = 0
        while not self._stop.is_set():
            sizes = self._sample()
            rss = sum(size for size, _ in sizes)
            # PSS at every new RSS peak, and every pss_every samples
            if sizes and (rss > self.peak_bytes or count % self.pss_every == 0):
                self.peak_pss_bytes = max(self.peak_pss_bytes, self._pss(sizes))
            self.peak_bytes = max(self.peak_bytes, rss)
            self.largest_bytes = max([self.largest_bytes, *(size for size, _ in sizes)])
            count += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def restorable(record: Mapping[str, Any] | None) -> bool:
    """Whether a recorded run is a finished one (it has a fingerprint)."""
    return bool(record) and not record.get("incomplete") and "fingerprint" in record
