"""``reproduce`` serially and with two notebooks at a time: wall time, and equal outputs.

Runs a profile (smoke unless ``--profile``) twice from empty artifact and report folders
(the shared data cache is reused): once with ``--jobs 1``, once with ``--jobs 2``. Prints
both wall times and their ratio, then compares every results file (each number, timings
left out) and every CSV table (timing and serving-speed tables left out) between the two
runs. Exits 1 if any output differs.

    .venv/bin/python benchmarks/bench_parallel_reproduce.py              # about 6 min
    .venv/bin/python benchmarks/bench_parallel_reproduce.py --keep /tmp/par
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TIMING = re.compile(r"second|timing|per_s|latency|speedup|wall|started|finished", re.I)
TIMING_TABLES = ("serving", "training_log", "timings")


def run(profile: str, jobs: int, folder: Path) -> float:
    """One ``newsstudy reproduce`` into ``folder``; its wall seconds."""
    env = dict(os.environ, NEWSSTUDY_ARTIFACTS=str(folder / "artifacts"),
               NEWSSTUDY_REPORTS=str(folder / "reports"))
    began = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "newsstudy"), "reproduce", "--profile",
                    profile, "--jobs", str(jobs)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def leaves(value, path=""):
    """(path, number) for every number in a JSON document, timing keys left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not TIMING.search(path):
            yield path, value


def differences(serial: Path, parallel: Path) -> list[str]:
    """Every results number and table cell that differs between the two report folders."""
    found = []
    for first in sorted((serial / "results").glob("*.json")):
        second = parallel / "results" / first.name
        a = dict(leaves(json.loads(first.read_text())))
        b = dict(leaves(json.loads(second.read_text()))) if second.exists() else {}
        found += [f"{first.name}{path}: {a[path]} vs {b.get(path)}"
                  for path in a if a[path] != b.get(path)]
    for first in sorted((serial / "tables").glob("*.csv")):
        if any(word in first.stem for word in TIMING_TABLES):
            continue
        second = parallel / "tables" / first.name
        a = pd.read_csv(first)
        b = pd.read_csv(second) if second.exists() else None
        keep = [column for column in a.columns if not TIMING.search(str(column))]
        if b is None or not a[keep].equals(b.reindex(columns=keep)):
            found.append(f"tables/{first.name} differs")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep both runs in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        seconds = {jobs: run(args.profile, jobs, base / f"jobs{jobs}") for jobs in (1, 2)}
        found = differences(base / "jobs1" / "reports" / args.profile,
                            base / "jobs2" / "reports" / args.profile)
    print(f"profile {args.profile}: --jobs 1 {seconds[1] / 60:.2f} min, --jobs 2 "
          f"{seconds[2] / 60:.2f} min, ratio {seconds[1] / seconds[2]:.2f}x")
    print(f"outputs that differ: {len(found)}")
    for line in found[:20]:
        print("   ", line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
