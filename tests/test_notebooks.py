"""Every notebook executed end to end on the smoke profile, in order, with its result files.

The notebooks run once per test session into throwaway report and artifact folders (the
shared data cache is reused); the tests then read the files each notebook wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsstudy import params, paths, runner
from newsstudy.io import read_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def smoke_reports(tmp_path_factory) -> Path:
    """Run every notebook with the smoke profile; return the smoke report folder."""
    root = tmp_path_factory.mktemp("smoke")
    saved = {k: os.environ.get(k) for k in ("NEWSSTUDY_REPORTS", "NEWSSTUDY_ARTIFACTS")}
    os.environ["NEWSSTUDY_REPORTS"] = str(root / "reports")
    os.environ["NEWSSTUDY_ARTIFACTS"] = str(root / "artifacts")
    try:
        for notebook in params.notebooks():
            runner.run_notebook(notebook, "smoke")
        yield paths.report_dir("smoke")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_every_notebook_produced_its_report(smoke_reports):
    for notebook in params.notebooks():
        assert (smoke_reports / f"{notebook}.ipynb").exists()
        assert (smoke_reports / "results" / f"{notebook}.json").exists()


def test_01_data_results(smoke_reports):
    results = read_json(smoke_reports / "results" / "01_data.json")
    assert results["n_users"] == 300
    assert results["n_articles"] == 400
    assert results["noise_share"] == pytest.approx(0.2, abs=0.03)
    assert results["cleaning"]["f1"] > results["cleaning_flag_everything"]["f1"]
    for name in ("01_dataset", "01_topics", "01_cleaning", "01_signal_mix"):
        assert (smoke_reports / "tables" / f"{name}.csv").exists()
        assert (smoke_reports / "tables" / f"{name}.md").exists()
    for name in ("01_signal_mix", "01_events_per_user", "01_topics", "01_cleaning_confusion"):
        assert (smoke_reports / "figures" / f"{name}.png").stat().st_size > 5_000


def test_02_rewards_results(smoke_reports):
    results = read_json(smoke_reports / "results" / "02_rewards.json")
    assert results["rewards_in_unit_interval"]
    strategies = results["strategies"]
    assert strategies["malformed output"]["total"] == 0.0
    assert strategies["oracle (latent truth)"]["recall@10"] > strategies["random words"]["recall@10"]
    assert strategies["oracle (latent truth)"]["recall@10"] > strategies["generic queries"]["recall@10"]
    for name in ("02_rubric", "02_strategies", "02_reward_correlations", "02_reward_hacks"):
        assert (smoke_reports / "tables" / f"{name}.csv").exists()
    for name in ("02_strategies", "02_reward_vs_recall"):
        assert (smoke_reports / "figures" / f"{name}.png").stat().st_size > 5_000
