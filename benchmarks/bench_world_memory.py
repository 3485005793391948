"""Benchmark: peak resident memory of notebook 06's world build (the A/B world).

Builds the A/B world of ``--profile`` (its own world's parameters with ``--users`` users
and 06's history and test windows, :func:`newsstudy.ab.simulate.ab_world_params`) from
scratch in a child process, into a temporary artifacts folder (the profile's own caches
are not touched; the corpus and embedding caches are reused), and prints the child's
peak resident memory and wall time. Budget: 6 GB for 100,000 users.

    python benchmarks/bench_world_memory.py --profile default --users 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

BUILD = """
import sys
from newsstudy.world import data
from newsstudy.ab.market import ab_world_params
from newsstudy.params import load_params

profile, users = sys.argv[1], int(sys.argv[2])
ab = load_params("06_ab_simulation", profile)
params = ab_world_params(load_params("01_data", profile), users, ab.days, ab.history_days)
data.build_world(params, log=lambda *a: None)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as artifacts:
        env = {**os.environ, "NEWSSTUDY_ARTIFACTS": artifacts}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", BUILD, args.profile, str(args.users)], env=env,
                       check=True)
        seconds = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9
    print(f"A/B world of {args.users:,} users built in {seconds:.1f} s")
    print(f"peak resident memory of the build: {peak_gb:.2f} GB (budget 6 GB)")
    print(f"per user: {peak_gb * 1e9 / args.users / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
