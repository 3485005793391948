"""The committed study: ``reports/`` as git holds it, whatever a re-run left on disk.

``make reproduce`` rewrites ``reports/default/`` (results, ``runs.json``, the report) on
the machine that runs it, and another machine's float rounding moves its numbers within
their intervals. Tests that check the *committed* study (the README's numbers, the gates
of the committed run, its budgets block) must read what was committed, so that
``make reproduce`` followed by ``make test`` passes anywhere. :func:`reports_root` gives a
folder that holds the committed ``reports/`` tree: the files of git's index (on a fresh
clone the last commit's; before a commit, what is staged for it) exported once per test
session, or the working tree's ``reports/`` where the project is not a git checkout (an
unpacked release, whose files are the published ones).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

from newsstudy import paths


def _git(*args: str, stdin: bytes | None = None) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=paths.PROJECT_ROOT, input=stdin,
                              capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


@functools.cache
def reports_root() -> Path:
    """A folder holding the committed ``reports/`` tree (see the module doc)."""
    listed = _git("ls-files", "-z", "--", "reports")
    if not listed:
        return paths.PROJECT_ROOT / "reports"
    export = Path(tempfile.mkdtemp(prefix="newsstudy-committed-"))
    atexit.register(shutil.rmtree, export, ignore_errors=True)
    if _git("checkout-index", "-z", "--stdin", f"--prefix={export}/", stdin=listed) is None:
        raise RuntimeError("git checkout-index could not export the committed reports/")
    return export / "reports"


def report_dir(profile: str = "default") -> Path:
    """The committed ``reports/<profile>/``."""
    return reports_root() / profile
