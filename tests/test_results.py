"""The results contract (newsstudy.results): estimates are numbers, keys are identifiers,
every notebook's model is reachable from the report, and a file that breaks the contract
is refused before it is written."""

from __future__ import annotations

import math
import typing

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ValidationError

from newsstudy import params, paths, saving
from newsstudy.evaluation import paired_difference
from newsstudy.report import claims, contract
from newsstudy.results import (
    KEY,
    Estimate,
    MetricEstimates,
    Paired,
    Record,
    bad_keys,
    dump,
    key,
    keyed,
)


def test_estimate_of_plain_numbers():
    e = Estimate.of(np.float64(0.25), np.float32(0.2), 0.3, np.int64(40))
    assert (e.mean, e.low, e.high, e.n, e.level) == (0.25, pytest.approx(0.2), 0.3, 40, 0.95)
    assert isinstance(e.n, int) and e.has_interval()
    missing = Estimate.of(float("nan"), math.inf, None)
    assert missing.mean is None and missing.low is None and not missing.has_interval()
    assert missing.text() == "n/a"


def test_estimate_from_display_columns_and_text():
    row = {"R@10": 0.123, "R@10 low": 0.101, "R@10 high": 0.145}
    e = Estimate.from_columns(row, "R@10", n=7)
    assert e == Estimate(mean=0.123, low=0.101, high=0.145, n=7)
    assert e.text() == "0.123 [0.101, 0.145]"
    assert Estimate.of(0.0095, 0.001, 0.018).percent() == "+0.95% [+0.10%, +1.80%]"
    assert Estimate.from_columns({"R@10": 0.2}, "R@10").text() == "0.200"


def test_key_of_display_labels():
    assert key("RL teacher") == "rl_teacher"
    assert key("on-policy + GRPO") == "on_policy_grpo"
    assert key("copy (heuristic)") == "copy_heuristic"
    assert key("seed 0") == "seed_0"
    assert key(16) == "16"
    assert key("_x") == "x"
    for label in ("", "@@", "1x"):
        with pytest.raises(ValueError, match="results key"):
            key(label)
    with pytest.raises(ValueError, match="collide"):
        keyed({"on-policy": 1, "on policy": 2})


class Row(Record):
    value: float
    table: dict[str, float] = {}


def test_dump_refuses_display_keys_and_text_intervals():
    assert dump(Row(value=1.0, table={"rl_teacher": 0.5, "32": 0.1})) == {
        "value": 1.0, "table": {"rl_teacher": 0.5, "32": 0.1}}
    with pytest.raises(ValueError, match=r"/table/RL teacher"):
        dump(Row(value=1.0, table={"RL teacher": 0.5}))
    assert bad_keys({"a": {"ci": "[0.107, 0.129]"}}) == [
        "/a/ci = '[0.107, 0.129]' (an interval as text)"]
    assert bad_keys({"a": ["word", "(x)"]}) == []


def test_records_refuse_unknown_fields():
    with pytest.raises(ValidationError, match="extra"):
        Row(value=1.0, other=2)
    # a display row builds a record through the aliases; it dumps by field name
    metrics = MetricEstimates(**{"recall@10": Estimate.of(0.2)})
    assert dump(metrics)["recall_at_10"]["mean"] == 0.2


def test_write_results_refuses_a_dict_and_a_broken_record_before_writing(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path))
    good = saving.write_results("smoke", "toy", Row(value=1.0))
    before = good.read_bytes()
    with pytest.raises(TypeError, match="results model"):
        saving.write_results("smoke", "toy", {"value": 2.0})
    with pytest.raises(ValueError, match="results contract"):
        saving.write_results("smoke", "toy", Row(value=2.0, table={"R@10": 0.1}))
    assert paths.results_path("smoke", "toy").read_bytes() == before


def test_paired_record_of_a_paired_difference():
    a = pd.Series([0.5, 0.6, 0.7, 0.8], index=[1, 2, 3, 4])
    diff = paired_difference(a, a - [0.1, 0.1, 0.2, 0.2])
    record = Paired.of(diff, candidate="a", reference="b")
    assert record.diff == pytest.approx(0.15) and record.n == 4 and record.above_zero()
    assert record.estimate() == Estimate(mean=record.diff, low=record.low, high=record.high,
                                         n=4)
    assert claims.as_paired(record).text() == diff.text()


def test_every_notebook_has_a_results_model():
    assert set(contract.MODELS) == set(params.notebooks())


def field_names(model: type[BaseModel], seen: set) -> set[str]:
    """Every field name of a model and of the models inside it."""
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for info in model.model_fields.values():
        stack = [info.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= field_names(annotation, seen)
            stack.extend(typing.get_args(annotation))
    return names


def test_every_field_of_every_results_model_is_an_identifier():
    seen: set = set()
    for model in contract.MODELS.values():
        names = field_names(model, seen)
        assert names and all(KEY.match(name) for name in names), model.__name__


def test_field_type_walks_models_dicts_lists_and_optionals():
    from newsstudy.scaling.results import CapacityRow, Diminishing, PickGain
    from newsstudy.teacher.results import AblationRow, RewardValidity

    assert contract.field_type("04_scaling", ["capacity", "xs"]) is CapacityRow
    assert contract.field_type("04_scaling", ["best_of_n_gains", "32"]) is PickGain
    assert contract.field_type("04_scaling", ["best_of_n_diminishing"]) == Diminishing | None
    assert contract.field_type("04_scaling", ["best_of_n_diminishing", "difference"]) is Estimate
    assert contract.field_type("03_grpo", ["ablation", "all_five"]) is AblationRow
    assert contract.field_type("03_grpo", ["reward_validity", "0"]) is RewardValidity
    with pytest.raises(KeyError):
        contract.field_type("03_grpo", ["offline_ci"])
    typed = contract.typed("04_scaling", ["best_of_n_gains"],
                           {"32": {"mean": 0.01, "low": 0.0, "high": 0.02, "n": 9,
                                   "p_value": 0.04}})
    assert typed[32].n == 9


def test_a_claim_on_a_file_that_breaks_its_model_is_not_run_with_the_reason():
    files = {"05_distillation": {"serving": {"teacher": {"users_per_second": "fast"},
                                             "student": {"users_per_second": 70.0}}}}
    found = claims.evaluate("student_speed", claims.Results(files))
    assert found.verdict == claims.NOT_RUN
    assert "['serving'] does not match its results model" in found.note


def test_a_nan_where_a_number_is_required_is_refused_before_writing():
    from newsstudy.gates import EntropyGate, EntropyRun

    class Strict(Record):
        value: float

    with pytest.raises(ValueError, match="would not read back.*value"):
        dump(Strict(value=float("nan")))
    # where a value may be missing, NaN is written as null and reads back as None
    gate = EntropyGate(tolerance=0.1, passes=False,
                       runs={"seed_0": EntropyRun(first=float("nan"), last=0.2, passes=False)})
    assert dump(gate)["runs"]["seed_0"]["first"] is None
    assert Estimate.of(0.1, n=float("nan")).n is None


def test_best_of_n_reads_back_smallest_n_first():
    import committed as committed_study

    from newsstudy.report.contract import read_json  # noqa: F401  (the reader the report uses)
    from newsstudy.scaling.results import ScalingResults

    committed = committed_study.report_dir("default") / "results" / "04_scaling.json"
    if not committed.exists():
        pytest.skip("no committed 04_scaling.json")
    results = ScalingResults.model_validate_json(committed.read_text(encoding="utf-8"))
    assert list(results.best_of_n) == sorted(results.best_of_n)  # the file holds "1", "16", "2"
    assert list(results.best_of_n_gains) == sorted(results.best_of_n_gains)


def test_failed_gates_with_missing_numbers_are_described_without_raising():
    from newsstudy.gates import ImitationGate
    from newsstudy.results import PairedGate

    no_ratio = ImitationGate(policy=0.1, demonstrations=0.0, ratio=None, bar=0.9,
                             paired=Paired(mean_a=0.1, mean_b=0.0, diff=0.1, low=0.0, high=0.2,
                                           n=3, p_value=0.5, relative=None), passes=False)
    assert "no ratio" in claims.gate_numbers(no_ratio)
    no_relative = PairedGate(mean_a=0.1, mean_b=0.0, diff=0.1, low=-0.1, high=0.3, n=3,
                             p_value=0.5, relative=None, candidate="a", reference="b",
                             passes=False)
    assert claims.gate_numbers(no_relative) == "difference +0.1000 [-0.1000, +0.3000]"
