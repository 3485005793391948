"""The world is a function of its parameters alone: two fresh builds, one on one thread and
one on two (embeddings computed afresh each time), give byte-identical world files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from newsstudy import paths

BUILD = """
from newsstudy.world import data
from newsstudy.params import load_params
data.build_world(load_params("01_data", "smoke"), log=lambda *a: None)
"""


def build(tmp_path, threads: int) -> dict[str, str]:
    """Build the smoke world in a fresh process with ``threads`` BLAS/torch threads."""
    data_root, artifacts = tmp_path / f"data{threads}", tmp_path / f"art{threads}"
    corpus = paths.data_root() / "corpus"
    if corpus.is_dir():  # the one-time download, shared; embeddings are not copied
        shutil.copytree(corpus, data_root / "corpus")
    env = {**os.environ, "NEWSSTUDY_DATA": str(data_root), "NEWSSTUDY_ARTIFACTS": str(artifacts),
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-c", BUILD], env=env, check=True, timeout=900)
    manifest = json.loads((artifacts / "smoke" / "world" / "manifest.json").read_text())
    return manifest["sha256"]


@pytest.mark.slow
def test_world_files_do_not_depend_on_the_thread_count(tmp_path):
    one, two = build(tmp_path, 1), build(tmp_path, 2)
    differing = sorted(name for name in one if one[name] != two.get(name))
    assert set(one) == set(two) and not differing, f"differ across thread counts: {differing}"
