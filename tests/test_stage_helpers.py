"""The helpers the notebooks call for one section each, checked by hand on small inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from newsstudy import distillation, paths, saving, scaling
from newsstudy.baselines import tables as baseline_tables
from newsstudy.distillation import tables as distillation_tables
from newsstudy.evaluation import paired_difference
from newsstudy.rewards import RewardWeights
from newsstudy.run import gpu_plan
from newsstudy.scaling import tables as scaling_tables
from newsstudy.teacher import ablation, imitation
from newsstudy.teacher import tables as teacher_tables
from newsstudy.timing import Timings


def test_timings_record_each_part_even_when_it_raises():
    timings = Timings()
    with timings.part("a"):
        pass
    with pytest.raises(RuntimeError), timings.part("b"):
        raise RuntimeError("the part failed")
    assert set(timings) == {"a_seconds", "b_seconds"}
    assert all(v >= 0 for v in timings.values())


def test_save_tables_skips_what_a_profile_did_not_compute(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path))
    written = saving.save_tables("smoke", {"a": pd.DataFrame({"x": [1]}), "b": None,
                                           "c": pd.DataFrame()})
    assert [p.name for p in written] == ["a.csv"]
    assert (paths.tables_dir("smoke") / "a.md").exists()
    assert not (paths.tables_dir("smoke") / "b.csv").exists()


def test_grpo_overrides_only_for_a_gpu_profile():
    assert gpu_plan.grpo_overrides_for("smoke") == {}
    assert gpu_plan.grpo_overrides_for("paper") == gpu_plan.grpo_config_overrides(
        gpu_plan.load_hardware("paper"))


def test_ablation_weights_drop_one_reward_each():
    weights = RewardWeights()
    out = ablation.weights_without(weights, ["cov", "div"])
    assert list(out) == ["cov", "div"]
    assert out["cov"].cov == 0.0 and out["cov"].div == weights.div
    assert out["div"].div == 0.0 and out["div"].align == weights.align


def test_checkpoints_by_method():
    measured = [{"method": "on-policy", "seed": 0, "checkpoint": "/a"},
                {"method": "on-policy", "seed": 1, "checkpoint": "/b"},
                {"method": "none", "seed": 0, "checkpoint": "/c"}]
    found = distillation.checkpoints_by_method(measured)
    assert {m: {s: str(p) for s, p in seeds.items()} for m, seeds in found.items()} == {
        "on-policy": {0: "/a", 1: "/b"}, "none": {0: "/c"}}


def students(values: dict[str, list[float]]) -> pd.DataFrame:
    """A per-user table: method, seed, user, recall@10, ndcg@10."""
    return pd.DataFrame([{"method": m, "seed": seed, "user": u, "recall@10": v,
                          "ndcg@10": v / 2}
                         for m, rows in values.items() for seed, per_user in enumerate(rows)
                         for u, v in enumerate(per_user)])


def test_teacher_gap_is_the_paired_difference_of_teacher_and_none():
    per_user = students({"teacher": [[0.3, 0.5, 0.4]], "none": [[0.1, 0.4, 0.4]]})
    gap = distillation_tables.teacher_gap(per_user)
    expected = paired_difference(pd.Series([0.3, 0.5, 0.4]), pd.Series([0.1, 0.4, 0.4]))
    assert gap.diff == pytest.approx(0.1) and gap.text() == expected.text()


def test_pair_table_and_its_sentence():
    pair = distillation_tables.pair_table("xl", "xs", 2000)
    params = pair.set_index("role")["params"]
    assert params["teacher"] > 30 * params["student"]
    text = distillation_tables.describe_pair(pair, "grpo-abc", 250, same_users=False)
    assert text.startswith("Teacher xl (grpo-abc), student xs: ")
    assert "at least 30x" in text and "NO, the teacher saw other users" in text


def test_method_table_adds_mean_reverse_kl_and_seed_spread():
    per_user = students({"teacher": [[0.4, 0.4]], "none": [[0.2, 0.2], [0.3, 0.3]],
                         "supervised": [[0.3, 0.3], [0.3, 0.3]]})
    runs = pd.DataFrame({"method": ["supervised", "supervised"], "seed": [0, 1],
                         "reverse KL": [1.0, 3.0], "well-formed": [1.0, 1.0]})
    table = distillation_tables.method_table(per_user, runs).set_index("method")
    assert table.loc["supervised", "reverse KL to teacher"] == pytest.approx(2.0)
    assert table.loc["none", "R@10 seed std"] == pytest.approx(np.std([0.2, 0.3], ddof=1))
    assert table.loc["supervised", "R@10 seed std"] == pytest.approx(0.0)


def test_offline_table_from_files_leaves_out_stale_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path))
    metrics = ("recall@5", "recall@10", "ndcg@5", "ndcg@10", "mrr")
    baselines = pd.DataFrame([{"method": "gru4rec", "seed": 0, "user": u, "is_cold": False,
                               **dict.fromkeys(metrics, 0.1 * u)} for u in range(1, 4)])
    saving.save_table(baselines, "smoke", "03b_per_user", markdown=False)
    student = pd.DataFrame([{"method": "on-policy", "seed": 0, "user": u,
                             **dict.fromkeys(metrics, 0.2)} for u in range(1, 5)])
    table, left_out = baseline_tables.offline_table_from_files("smoke", student, stale=set())
    assert left_out == ["03_grpo"]  # never written
    assert table["n users"].iloc[0] == 3  # the users both parts scored
    assert any(table["method"].str.startswith("GRU"))
    table, left_out = baseline_tables.offline_table_from_files("smoke", student,
                                                               stale={"03b_baselines"})
    assert left_out == ["03b_baselines", "03_grpo"] and table["n users"].iloc[0] == 4


def test_largest_retrieves_reads_the_largest_size():
    table = pd.DataFrame({"size": ["xl", "xs"], "params": [4e6, 1e5], "recall@10": [0.0, 0.2]})
    gate = scaling_tables.largest_retrieves(table)
    assert (gate.size, gate.passes, gate.recall_at_10) == ("xl", False, 0.0)


def test_diminishing_returns_only_when_the_split_lies_inside():
    picked = pd.DataFrame([{"user": u, "n": n, "recall@10": 0.1 * np.log2(n) + 0.01 * u}
                           for u in range(5) for n in (1, 2, 4, 8)])
    assert scaling.diminishing_if_testable(picked, [1, 2, 4]) is None  # 4 is the last N
    assert scaling.diminishing_if_testable(picked, [1, 4]) is None
    found = scaling.diminishing_if_testable(picked, [1, 2, 4, 8])
    assert found["early_gain_per_doubling"] == pytest.approx(0.1)
    assert found["late_gain_per_doubling"] == pytest.approx(0.1)


def test_offline_comparisons_pair_each_teacher_with_prompt_only():
    paper, verifiable = teacher_tables.TEACHER_NAMES["paper"], teacher_tables.TEACHER_NAMES["verifiable"]
    scores = {paper: [0.3, 0.5, 0.2], verifiable: [0.4, 0.6, 0.3], "prompt-only": [0.2, 0.5, 0.1]}
    rows = [{"method": m, "seed": 0, "user": u, "is_cold": u == 0, "recall@10": r,
             "recall@5": r, "ndcg@5": r, "ndcg@10": r, "mrr": r, "interest_coverage": 0.5,
             "query_precision": 0.5, "queries_per_interest": 1.0}
            for m, values in scores.items() for u, r in enumerate(values)]
    compared = teacher_tables.offline_comparisons(pd.DataFrame(rows))
    assert compared.paired[paper].diff == pytest.approx(0.2 / 3) and compared.paired[paper].n == 3
    assert compared.paired[verifiable].diff == pytest.approx(0.5 / 3)
    # the paper's teacher gains 0.2/3, the verifiable one 0.5/3: it captures 40% of that gain
    assert compared.captured["share"] == pytest.approx(0.4) and compared.captured["n"] == 3
    assert compared.captured["low"] <= 0.4 <= compared.captured["high"]
    assert set(compared.tables()) == {"03_lift", "03_warm_cold", "03_interest_quality",
                                      "03_teachers_paired"}
    lift = compared.lift.set_index("metric")["ours"]
    assert lift["R@10"] == pytest.approx(1.0 / 0.8 - 1)


def test_demonstrations_summarise_their_scores():
    scores = pd.DataFrame({"user": [1, 1, 2, 2], "demonstration": ["copy", "drawn 1"] * 2,
                           "recall@10": [0.2, 0.4, 0.0, 0.6]})
    demos = imitation.Demonstrations({1: "p1", 2: "p2"}, {1: ["a"], 2: ["b"]}, scores)
    assert demos.recall.to_dict() == {1: pytest.approx(0.3), 2: pytest.approx(0.3)}
    assert demos.by_kind()["mean"].to_dict() == {"copy": 0.1, "drawn 1": 0.5}
    assert "```\np1\n```" in demos.example(1) and "['a']" in demos.example(1)


def test_save_tables_removes_a_stale_table_it_does_not_write(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path))
    saving.save_tables("smoke", {"matches": pd.DataFrame({"x": [1]})})
    assert (paths.tables_dir("smoke") / "matches.csv").exists()
    saving.save_tables("smoke", {"matches": pd.DataFrame(columns=["x"])})  # found nothing now
    assert not (paths.tables_dir("smoke") / "matches.csv").exists()
    assert not (paths.tables_dir("smoke") / "matches.md").exists()
