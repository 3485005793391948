"""The README's two commands in sequence: ``make reproduce`` on another machine, then
``make test``.

A re-run rewrites ``reports/default/`` (results, ``runs.json``, the report), and on
another machine its numbers move within their intervals. The suite must stay green: the
tests of the committed study read git's copy (``tests/committed.py``), never what a
re-run left on disk. This test proves it in a copy of the project: it re-runs notebook
01_data of the default profile there (rewriting its results, its executed notebook and
its ``runs.json`` record, as ``make reproduce`` does), rewrites the numbers of every other
committed results file (as another machine's rounding would) and the whole run's record,
rebuilds the report, then runs the tests that read the committed study in that copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsstudy import paths
from newsstudy.io import read_json, write_json

pytestmark = pytest.mark.slow

# the test files that read the committed default study
COMMITTED_STUDY_TESTS = ("tests/test_committed_gates.py", "tests/test_report.py",
                         "tests/test_results.py")


def project_copy(target: Path) -> Path:
    """The project's files as they are now (tracked, and untracked but not ignored) in a
    fresh git repository at ``target``, committed: a clone of this working tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                            cwd=paths.PROJECT_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = paths.PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy"]):
        subprocess.run(["git", *args], cwd=target, check=True, capture_output=True)
    return target


def nudged(value):
    """A results value as another machine's rounding might give it: floats strictly inside
    (0, 1) move a little (intervals keep their order), everything else stays."""
    if isinstance(value, dict):
        return {key: nudged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [nudged(item) for item in value]
    if isinstance(value, float) and 0.0 < value < 1.0:
        return value * 0.999
    return value


def run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def test_committed_study_tests_pass_after_a_rerun_rewrote_the_reports(tmp_path):
    clone = project_copy(tmp_path / "clone")
    env = {**os.environ, "PYTHONPATH": str(clone),
           "NEWSSTUDY_ARTIFACTS": str(tmp_path / "artifacts"),
           "NEWSSTUDY_DATA": str(paths.data_root())}  # the corpus and its embeddings, cached
    for name in ("NEWSSTUDY_REPORTS", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    python = sys.executable
    results = clone / "reports" / "default" / "results"
    run([python, "-m", "newsstudy.run.cli", "run", "01_data", "--profile", "default",
         "--force"], clone, env)
    for path in results.glob("*.json"):
        if path.name != "01_data.json":
            write_json(path, nudged(read_json(path)))
    run([python, "-c", "from newsstudy.run import records; records.save_reproduce("
         "'default', {'wall_seconds': 1234.5, 'jobs': 2, 'ran': ['01_data'], 'skipped': []})"],
        clone, env)
    run([python, "-m", "newsstudy.run.cli", "report", "--profile", "default"], clone, env)
    changed = subprocess.run(["git", "status", "--porcelain", "--", "reports/default"],
                             cwd=clone, capture_output=True, text=True, check=True).stdout
    assert "runs.json" in changed and "REPORT.md" in changed, changed  # the re-run rewrote them
    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         *COMMITTED_STUDY_TESTS], clone, env)
