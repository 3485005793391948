"""How far each expected smoke value moves between numeric set-ups of one machine.

Another CPU rounds floats differently (other BLAS kernels, other SIMD paths in numpy and
torch), and the smoke profile's numbers move with it: the world's cleaner classifies a
few events differently, the distilled static embedder differs in its last bits, and
training takes another path. ``tests/test_notebooks.py`` sets each expected value's
tolerance from the spread this script measures. Each set-up runs the whole smoke profile
from empty artifacts *and an empty data cache* (only the raw corpus is copied), so the
embeddings and the static embedder are recomputed under its own arithmetic:

- ``native``: this machine as it is;
- ``portable``: the oldest kernels every x86-64 CPU has: OpenBLAS's Prescott kernels,
  torch's and oneDNN's default (no AVX) code paths, MKL limited to SSE4.2, and numpy's
  AVX/AVX2/FMA/AVX-512 loops disabled;
- ``sandybridge``: OpenBLAS's Sandy Bridge kernels, torch's AVX2 path, numpy as is;
- ``one-job``: the notebooks one after the other (``--jobs 1``), native kernels.

    python benchmarks/smoke_spread.py                 # every set-up, then the table
    python benchmarks/smoke_spread.py --setups native portable --keep /tmp/spread

It prints, for every expected value, its value in each set-up, the largest distance from
the expected value, and the tolerance the test uses; ``--json`` writes the same as a file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SETUPS: dict[str, dict[str, str]] = {
    "native": {},
    "portable": {"OPENBLAS_CORETYPE": "Prescott", "ATEN_CPU_CAPABILITY": "default",
                 "DNNL_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                 "NPY_DISABLE_CPU_FEATURES": "AVX AVX2 FMA3 F16C AVX512F AVX512CD "
                                             "AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL "
                                             "AVX512_SPR"},
    "sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge", "ATEN_CPU_CAPABILITY": "avx2"},
    "one-job": {},
}
JOBS = {"one-job": 1}


def run_setup(name: str, folder: Path, data: Path) -> float:
    """Run the smoke profile under set-up ``name`` into ``folder``; its wall seconds."""
    cache = folder / "data"
    (cache / "corpus").mkdir(parents=True, exist_ok=True)
    shutil.copy2(data / "corpus" / "articles.parquet", cache / "corpus" / "articles.parquet")
    env = {**os.environ, **SETUPS[name], "NEWSSTUDY_DATA": str(cache),
           "NEWSSTUDY_REPORTS": str(folder / "reports"),
           "NEWSSTUDY_ARTIFACTS": str(folder / "artifacts")}
    command = [sys.executable, "-m", "newsstudy.run.cli", "reproduce", "--profile", "smoke"]
    if name in JOBS:
        command += ["--jobs", str(JOBS[name])]
    started = time.perf_counter()
    with open(folder / "reproduce.log", "w", encoding="utf-8") as log:
        subprocess.run(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                       check=True)
    return time.perf_counter() - started


def main() -> None:
    from test_notebooks import EXPECTED, value_at

    from newsstudy import paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", nargs="+", choices=sorted(SETUPS), default=list(SETUPS))
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder to run in and keep (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="write the table here too")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="smoke-spread-"))
    values: dict[str, dict[str, float]] = {}
    for name in args.setups:
        folder = base / name
        results = folder / "reports" / "smoke" / "results"
        if not results.is_dir():
            seconds = run_setup(name, folder, paths.data_root())
            print(f"{name}: smoke profile in {seconds / 60:.1f} min", flush=True)
        for notebook, expected in EXPECTED.items():
            found = json.loads((results / f"{notebook}.json").read_text(encoding="utf-8"))
            for path in expected:
                values.setdefault(f"{notebook}:{path}", {})[name] = float(value_at(found, path))
    rows = []
    print(f"\n{'value':70s} {'expected':>9s} " + " ".join(f"{n:>11s}" for n in args.setups)
          + f" {'max |off|':>9s} {'tolerance':>9s}")
    for key, by_setup in values.items():
        notebook, path = key.split(":", 1)
        expected, tolerance = EXPECTED[notebook][path]
        off = max(abs(v - expected) for v in by_setup.values())
        spread = max(by_setup.values()) - min(by_setup.values())
        rows.append({"value": key, "expected": expected, "tolerance": tolerance,
                     "by_setup": by_setup, "max_off": off, "spread": spread,
                     "holds": off <= tolerance})
        print(f"{key:70s} {expected:9.5f} " + " ".join(f"{by_setup[n]:11.5f}" for n in args.setups)
              + f" {off:9.5f} {tolerance:9.4f}{'' if off <= tolerance else '  OUTSIDE'}")
    held = sum(row["holds"] for row in rows)
    print(f"\n{held} of {len(rows)} expected values hold in every set-up ({', '.join(args.setups)})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
