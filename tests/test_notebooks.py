"""Every notebook executed end to end on the smoke profile, with its result files.

The notebooks run once per test session into throwaway report and artifact folders (the
shared data cache is reused); the tests then read the files each notebook wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from newsstudy import params, paths
from newsstudy.io import read_json
from newsstudy.report import contract
from newsstudy.run import runner

pytestmark = [pytest.mark.slow, pytest.mark.smoke]


@pytest.fixture(scope="session")
def smoke_reports(tmp_path_factory) -> Path:
    """Run every notebook with the smoke profile; return the smoke report folder."""
    root = tmp_path_factory.mktemp("smoke")
    saved = {k: os.environ.get(k) for k in ("NEWSSTUDY_REPORTS", "NEWSSTUDY_ARTIFACTS")}
    os.environ["NEWSSTUDY_REPORTS"] = str(root / "reports")
    os.environ["NEWSSTUDY_ARTIFACTS"] = str(root / "artifacts")
    try:
        # as `make smoke` runs them: over the dependency graph, two at a time
        runner.reproduce("smoke", log=lambda line: None, jobs=2)
        yield paths.report_dir("smoke")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def typed(smoke_reports: Path, notebook: str):
    """A notebook's smoke results, read through its results model (which validates it)."""
    return contract.MODELS[notebook].model_validate(
        read_json(smoke_reports / "results" / f"{notebook}.json"))


def test_every_notebook_produced_its_report(smoke_reports):
    for notebook in params.notebooks():
        assert (smoke_reports / f"{notebook}.ipynb").exists()
        assert (smoke_reports / "results" / f"{notebook}.json").exists()


def test_every_results_file_keeps_the_contract(smoke_reports):
    """Each file validates against its notebook's model, has identifier keys only and no
    interval written as text."""
    from newsstudy.results import bad_keys

    assert set(contract.MODELS) == set(params.notebooks())
    for notebook in params.notebooks():
        raw = read_json(smoke_reports / "results" / f"{notebook}.json")
        assert bad_keys(raw) == [], notebook
        typed(smoke_reports, notebook)


def test_01_data_results(smoke_reports):
    results = typed(smoke_reports, "01_data")
    assert results.n_users == 300
    assert results.n_articles == 400
    assert results.noise_share == pytest.approx(0.2, abs=0.03)
    assert results.cleaning.f1 > results.cleaning_flag_everything.f1
    for name in ("01_dataset", "01_topics", "01_cleaning", "01_signal_mix"):
        assert (smoke_reports / "tables" / f"{name}.csv").exists()
        assert (smoke_reports / "tables" / f"{name}.md").exists()
    for name in ("01_signal_mix", "01_events_per_user", "01_topics", "01_cleaning_confusion"):
        assert (smoke_reports / "figures" / f"{name}.png").stat().st_size > 5_000


def test_02_rewards_results(smoke_reports):
    results = typed(smoke_reports, "02_rewards")
    assert results.rewards_in_unit_interval
    strategies = results.strategies
    assert strategies["malformed_output"].total == 0.0
    oracle = strategies["oracle_latent_truth"].recall_at_10
    assert oracle > strategies["random_words"].recall_at_10
    assert oracle > strategies["generic_queries"].recall_at_10
    for name in ("02_rubric", "02_strategies", "02_reward_correlations", "02_reward_hacks",
                 "02_serving_path", "02_degenerate_gate", "02_per_user"):
        assert (smoke_reports / "tables" / f"{name}.csv").exists()
    for name in ("02_strategies", "02_reward_vs_recall"):
        assert (smoke_reports / "figures" / f"{name}.png").stat().st_size > 5_000
    # The gates are computed and consistent with their own numbers (their values are
    # asserted on the committed default results, tests/test_committed_gates.py).
    gate = results.gates.inference_pays
    assert gate.reference == "copy surface signals" and gate.n >= 10
    assert gate.passes == (gate.low > 0 and gate.relative >= gate.min_lift)
    assert gate.low <= gate.diff <= gate.high
    degenerate = results.gates.degenerate_below_copy
    assert "random_words" in degenerate.strategies
    assert degenerate.passes == all(v.passes for v in degenerate.strategies.values())


def test_01b_sensitivity_results(smoke_reports):
    results = typed(smoke_reports, "01b_sensitivity")
    knobs = params.load_params("01b_sensitivity", "smoke").knobs
    assert results.n_worlds == 1 + 2 * len(knobs)
    rows = pd.DataFrame(results.model_dump()["rows"])
    assert set(rows["knob"]) == {"default", *knobs}
    for column in ("copy_signals", "infer", "oracle", "content", "gru4rec"):
        assert rows[column].between(0, 1).all()
    assert np.allclose(rows["infer"] / rows["copy_signals"], rows["infer_over_copy"])
    for row in results.rows:  # the paired gap's mean is the difference of the two means
        gap = row.infer_minus_copy
        assert gap.mean == pytest.approx(row.infer - row.copy_signals)
        assert gap.low <= gap.mean <= gap.high
    assert (smoke_reports / "figures" / "01b_sensitivity.png").stat().st_size > 5_000


def test_03b_baselines_results(smoke_reports):
    results = typed(smoke_reports, "03b_baselines")
    methods = results.methods
    for name in ("gru4rec", "sasrec", "nrhub", "pinsage", "hstu", "popularity", "content"):
        for metric in ("recall_at_5", "recall_at_10", "ndcg_at_5", "ndcg_at_10", "mrr"):
            value = getattr(methods[name], metric)
            assert 0.0 <= value.mean <= 1.0
            assert value.low <= value.mean <= value.high
        assert methods[name].recall_at_10.mean >= methods[name].recall_at_5.mean
        assert results.warm_cold[name].warm.recall_at_10 >= 0
    assert methods["hstu"].recall_at_10.paper == 0.25
    assert methods["content"].recall_at_10.mean > methods["popularity"].recall_at_10.mean
    per_user = pd.read_csv(smoke_reports / "tables" / "03b_per_user.csv")
    assert set(per_user["method"]) == set(methods)
    assert per_user.groupby("method")["seed"].nunique()["gru4rec"] == results.n_seeds
    ceiling = results.gates.ceiling_clears_baselines
    assert ceiling.candidate == "oracle" and ceiling.reference in per_user["method"].values
    assert ceiling.passes == (ceiling.low > 0 and ceiling.relative >= ceiling.min_lift)
    for name in ("03b_baselines", "03b_warm_cold", "03b_training_log"):
        assert (smoke_reports / "tables" / f"{name}.csv").exists()
    assert (smoke_reports / "figures" / "03b_baselines.png").stat().st_size > 5_000


def test_03_grpo_results(smoke_reports):
    results = typed(smoke_reports, "03_grpo")
    assert set(results.offline) == {"prompt_only", "rl_teacher", "rl_teacher_verifiable",
                                    "copy_heuristic", "infer_heuristic"}
    for method, row in results.offline.items():
        metrics = row.metrics
        assert 0.0 <= metrics.recall_at_5.mean <= metrics.recall_at_10.mean <= 1.0, method
        assert metrics.recall_at_10.low <= metrics.recall_at_10.mean <= metrics.recall_at_10.high
    assert set(results.ablation) >= {"all_five", "without_cov"}
    assert 0.0 <= results.format_ok["rl_teacher"] <= 1.0
    assert results.feeds_04_06 == params.load_recipe("smoke").teacher_reward
    # the instrument's checks are recorded beside the verdict, each consistent with its numbers
    gates = results.gates
    assert gates.imitation.passes == (gates.imitation.ratio >= 0.9)
    assert gates.format.passes == all(v >= 0.95 for v in gates.format.shares.values())
    for gate in (gates.reward_validity, gates.grpo_improves, gates.verifiable_validity,
                 gates.verifiable_improves, gates.beats_prompt_only):
        assert gate.passes == (gate.low > 0), gate.what
    half = gates.half_gap
    assert half.passes == (half.share is not None and half.share >= half.bar)
    assert results.instrument_ok == all(getattr(gates, name).passes
                                        for name in type(gates).model_fields)
    assert results.decoding.duplicate_guard is True
    assert {row.reward for row in results.reward_validity} == {
        "align", "cov", "spec", "div", "struct", "total", "verifiable"}
    assert all(0.0 <= row.tied_groups <= 1.0 for row in results.reward_validity)
    # each teacher's gain over prompt-only, paired on the same validation users
    for name, row in results.gap_closed.items():
        assert row.gain.low <= row.gain.diff <= row.gain.high, name
        assert row.gain.n == row.share_of_gap.n
    assert {row.policy for row in results.composition} >= {"prompt-only"}
    for row in results.composition:
        shares = (row.candidate, row.signal, row.own_words, row.mixed)
        assert sum(shares) == pytest.approx(1.0, abs=1e-9) or sum(shares) == 0.0, row.policy
    assert {run.run.split(",")[0] for run in results.runs} == {"RL teacher",
                                                                "RL teacher (verifiable)"}
    for name in ("03_offline_table", "03_reward_ablation", "03_per_user", "03_warm_cold",
                 "03_decoding", "03_reward_validity", "03_grpo_improvement", "03_gap_closed",
                 "03_composition", "03_grpo_runs", "03_teachers_paired",
                 "03_imitation_by_size", "03_ablation_paired"):
        assert (smoke_reports / "tables" / f"{name}.csv").exists(), name
    for name in ("03_grpo_training_curves", "03_offline_table", "03_imitation"):
        assert (smoke_reports / "figures" / f"{name}.png").stat().st_size > 5_000


def test_checkpoints_are_safetensors_and_complete(smoke_reports):
    models = paths.profile_artifacts("smoke") / "models"
    finished = [p for p in models.iterdir() if (p / "complete.json").exists()]
    assert finished, "no complete checkpoint"
    for folder in finished:
        assert (folder / "model.safetensors").exists()
        assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    assert not [p for p in models.iterdir() if p.name.endswith(".partial")]


def test_complete_offline_table_has_baselines_and_llm_rows(smoke_reports):
    import pandas as pd

    table = pd.read_csv(smoke_reports / "tables" / "offline_table.csv")
    methods = " ".join(table["method"])
    for name in ("GRU", "SASRec", "NRHUB", "PinSage", "HSTU", "prompt-only", "RL teacher"):
        assert name in methods, name
    assert methods.count("(best)") == 1


def test_04_scaling_results(smoke_reports):
    results = typed(smoke_reports, "04_scaling")
    assert results.sizes == ["xs", "s"]
    capacity = results.capacity
    assert capacity["s"].params > capacity["xs"].params > 0
    for row in capacity.values():
        recall = row.recall_at_10
        assert 0.0 <= recall.low <= recall.mean <= recall.high <= 1.0
        assert row.train_flops > 0 and row.train_seconds > 0
    best = results.best_of_n
    assert sorted(best) == [1, 2, 4]
    tokens = [best[n].generated_tokens_per_user for n in (1, 2, 4)]
    assert tokens == sorted(tokens) and tokens[0] > 0
    for row in best.values():  # the oracle pick is an upper bound of the reward pick
        assert row.recall_at_10_oracle >= row.recall_at_10_reward_picked - 1e-12
    for name in ("04_capacity", "04_best_of_n", "04_compute_frontier", "04_validation",
                 "04_best_of_n_gains"):
        assert (smoke_reports / "figures" / f"{name}.png").stat().st_size > 5_000
        assert (smoke_reports / "tables" / f"{name}.csv").exists()
    # every size is checked, on the shared user sets, and the gates follow the numbers
    assert set(results.validation) == {"xs", "s"}
    for size, row in results.validation.items():
        assert row.validation_sft_loss > 0, size
        assert (size in results.gates.sizes_imitate.failing) == (not row.imitation_passes)
    for n, gain in results.best_of_n_gains.items():
        assert gain.low <= gain.mean <= gain.high, n
        assert gain.n == results.best_of_n_gains[1].n  # one user set for every N
    per_user = pd.read_csv(smoke_reports / "tables" / "04_capacity_per_user.csv")
    assert per_user.groupby("size")["user"].nunique().nunique() == 1
    assert results.distillation_teacher.size == "s"  # the largest size is published


def test_05_distillation_results(smoke_reports):
    results = typed(smoke_reports, "05_distillation")
    table = results.distillation
    assert set(table) == {"teacher", "student_warm_start", "none", "supervised", "on_policy",
                          "on_policy_grpo"}
    for row in table.values():
        # a t interval over the smoke profile's 20 users may reach below 0; the mean may not
        recall = row.recall_at_10
        assert recall.low <= recall.mean <= recall.high and 0.0 <= recall.mean <= 1.0
    for method in ("supervised", "on_policy", "student_warm_start"):
        assert table[method].reverse_kl_to_teacher >= 0.0
    assert table["on_policy"].gap_closed_paper == pytest.approx(0.074 / 0.084)
    for speed in (results.serving.teacher, results.serving.student):
        assert speed.users_per_second > 0
        assert 0 < speed.p50_latency_s <= speed.p95_latency_s
    published = read_json(paths.profile_artifacts("smoke") / "published" / "student.json")
    assert published["source_notebook"] == "05_distillation"
    for name in ("05_distillation", "05_curves"):
        assert (smoke_reports / "figures" / f"{name}.png").stat().st_size > 5_000
    # the teacher is 04's largest size, read from 04's evaluation, not evaluated again
    scaling = typed(smoke_reports, "04_scaling")
    assert results.teacher_model == scaling.distillation_teacher.size
    assert table["teacher"].recall_at_10.mean == pytest.approx(
        scaling.capacity[results.teacher_model].recall_at_10.mean)
    assert results.gates.student_30x_smaller.passes is False  # smoke: s against xs
    offline = pd.read_csv(smoke_reports / "tables" / "offline_table.csv")
    assert offline["method"].iloc[-1].startswith("Distilled student")


def test_06_ab_simulation_results(smoke_reports):
    from test_ab import check_ab_results

    check_ab_results(smoke_reports)


# Expected smoke values, with tolerances (as microsoft/recommenders checks its notebooks):
# a change that moves one of these is a change in behaviour, to be explained in its commit.
# Each tolerance comes from the spread measured across numeric set-ups of one machine
# (`python benchmarks/smoke_spread.py`: native kernels, the oldest x86-64 kernels, Sandy
# Bridge kernels, the notebooks one at a time), which stand in for other machines: counts
# of the world are exact in every set-up; scores computed from the world and embeddings
# alone were equal to the last digit; trained numbers (12-60 smoke users, one seed) are not
# exact across set-ups at all: the smallest rounding difference puts training on another
# path, and the same code gave prompt-only 0.160, 0.190 and 0.267 test R@10 and an
# imitation ratio of 0.65, 0.72 and 0.93 (spreads up to 0.11 and 0.28). Their tolerances
# are that spread with a margin: they catch a pipeline that breaks (a policy that
# retrieves nothing, a teacher that stops training), not a small change of behaviour.
# Update a value by running `make smoke` and reading reports/smoke/results/<notebook>.json.
WORLD, SCORE, TRAINED, IMITATION = 0.0, 1e-4, 0.12, 0.3
EXPECTED = {
    "01_data": {
        "n_events": (18840, WORLD),
        "n_test_clicks": (1131, WORLD),
        # 0.83814 on one 2-core machine, 0.83881 in every set-up of another (a few events
        # classified differently): exact on one machine, not across machines
        "cleaning/f1": (0.83881, 0.005),
        "noise_share": (0.20096, 1e-4),
    },
    "01b_sensitivity": {
        "rows/0/copy_signals": (0.25319, SCORE),
        "rows/0/infer": (0.27333, SCORE),
        "rows/0/oracle": (0.32941, SCORE),
        "rows/0/content": (0.34432, SCORE),
        "rows/0/gru4rec": (0.19993, TRAINED),
    },
    "02_rewards": {
        "strategies/copy_surface_signals/recall_at_10": (0.37264, SCORE),
        "strategies/infer_interests/recall_at_10": (0.31001, SCORE),
        "strategies/oracle_latent_truth/recall_at_10": (0.44056, SCORE),
        "strategies/random_words/recall_at_10": (0.19254, SCORE),
        "strategies/infer_interests/total": (3.70639, 1e-3),
        "strategies/malformed_output/total": (0.0, WORLD),
        "correlation_total_recall10_within_user": (0.34175, 1e-3),
    },
    "03_grpo": {
        "offline/copy_heuristic/metrics/recall_at_10/mean": (0.34751, SCORE),
        "offline/infer_heuristic/metrics/recall_at_10/mean": (0.30016, SCORE),
        "offline/prompt_only/metrics/recall_at_10/mean": (0.33137, TRAINED),
        "offline/rl_teacher/metrics/recall_at_10/mean": (0.30631, TRAINED),
        "offline/rl_teacher_verifiable/metrics/recall_at_10/mean": (0.28465, TRAINED),
        "format_ok/rl_teacher": (1.0, 0.05),
        "gates/imitation/ratio": (0.58187, IMITATION),  # 12 validation users
    },
    "03b_baselines": {
        "methods/content/recall_at_10/mean": (0.38395, SCORE),
        "methods/popularity/recall_at_10/mean": (0.21716, SCORE),
        "methods/gru4rec/recall_at_10/mean": (0.14912, TRAINED),
        "methods/hstu/recall_at_10/mean": (0.35008, TRAINED),
    },
    "04_scaling": {
        "capacity/xs/recall_at_10/mean": (0.38060, TRAINED),
        "capacity/s/recall_at_10/mean": (0.27584, TRAINED),
        "best_of_n/1/recall_at_10_reward_picked": (0.24269, TRAINED),
        "best_of_n/4/recall_at_10_reward_picked": (0.28592, TRAINED),
    },
    "05_distillation": {
        "distillation/none/recall_at_10/mean": (0.38060, TRAINED),
        "distillation/supervised/recall_at_10/mean": (0.32417, TRAINED),
        "distillation/on_policy/recall_at_10/mean": (0.32417, TRAINED),
        "distillation/on_policy_grpo/recall_at_10/mean": (0.33042, TRAINED),
    },
    "06_ab_simulation": {
        "metrics/dau/lift/mean": (0.01959, 0.05),
        "metrics/ctr/lift/mean": (-0.08827, 0.08),
        "aa/fpr/dau": (0.049, 0.03),
    },
}


def value_at(results: dict, path: str):
    """The value at a ``/``-separated path of a results file (list indices as numbers)."""
    value = results
    for key in path.split("/"):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def test_value_at_reads_nested_paths():
    assert value_at({"a": [{"b": 1.5}]}, "a/0/b") == 1.5


@pytest.mark.parametrize("notebook", sorted(EXPECTED))
def test_smoke_values_match_expected(smoke_reports, notebook):
    results = read_json(smoke_reports / "results" / f"{notebook}.json")
    off = {path: (value_at(results, path), expected)
           for path, (expected, tolerance) in EXPECTED[notebook].items()
           if value_at(results, path) != pytest.approx(expected, abs=tolerance, rel=0)}
    assert off == {}, f"{notebook}: (found, expected) outside tolerance: {off}"
