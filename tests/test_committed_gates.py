"""Functional tier: the world's gates on the committed default results.

The smoke tests check that every gate is computed and consistent; these read what the
default profile actually found (``reports/default/results`` as committed, whatever a
re-run left on disk: ``tests/committed.py``), so a change that breaks the
instrument shows up as a failing test once the default profile is re-run and committed.
A gate that fails in this world is not hidden: the claims it guards are then reported as
untestable (``newsstudy.report.claims.WORLD_GATES``), which is checked here too.
"""

from __future__ import annotations

import committed as committed_study
import pytest

from newsstudy import gates, params, paths
from newsstudy.io import read_json
from newsstudy.report import claims, contract

pytestmark = pytest.mark.functional


def raw(notebook: str) -> dict:
    path = committed_study.report_dir("default") / "results" / f"{notebook}.json"
    if not path.exists():
        pytest.skip(f"no committed {path.name}")
    return read_json(path)


def committed(notebook: str):
    """A committed default results file, read through its notebook's results model."""
    return contract.MODELS[notebook].model_validate(raw(notebook))


def committed_files(*notebooks: str) -> claims.Results:
    return claims.Results({name: raw(name) for name in notebooks})


def test_every_committed_results_file_keeps_the_contract():
    from newsstudy.results import bad_keys

    for notebook in contract.MODELS:
        assert bad_keys(raw(notebook)) == [], notebook
        committed(notebook)


def test_enough_test_users_for_tight_intervals():
    world = committed("01_data")
    assert world.n_test_users_with_clicks >= 1000
    assert world.n_val_users >= 500


def test_inference_pays_in_the_default_world():
    gate = committed("02_rewards").gates.inference_pays
    assert gate.reference == "copy surface signals"
    assert gate.n >= 1000
    assert gate.relative >= gates.INFERENCE_LIFT and gate.low > 0
    assert gate.passes


def test_serving_path_in_params_is_the_one_chosen_on_validation_users():
    rewards = committed("02_rewards")
    chosen = rewards.serving_path.chosen
    assert rewards.serving_path.params_agree
    for notebook in ("02_rewards", "03b_baselines", "01b_sensitivity"):
        loaded = params.load_params(notebook, "default")
        assert (loaded.fusion, loaded.k_per_query) == (chosen.fusion, chosen.k_per_query)
    recipe = params.load_recipe("default")  # the teacher (03, 04, 05) serves the same way
    assert (recipe.fusion, recipe.k_per_query) == (chosen.fusion, chosen.k_per_query)
    assert chosen.query_words is None  # whole queries: the demonstrations copy whole signals


def test_reward_gates_are_recorded_with_their_numbers():
    recorded = committed("02_rewards").gates
    degenerate = recorded.degenerate_below_copy
    shares = {name: row.share_of_copy for name, row in degenerate.strategies.items()}
    assert set(shares) >= {"random_words", "generic_queries", "one_query_repeated",
                           "malformed_output", "hack_spec", "hack_align"}
    assert degenerate.passes == all(s <= 1 - gates.DEGENERATE_MARGIN for s in shares.values())
    order = recorded.reward_order
    assert order.passes == all(a > b for a, b in zip(order.totals, order.totals[1:],
                                                     strict=False))


def test_ceiling_gate_recorded_and_claims_follow_it(monkeypatch):
    gate = committed("03b_baselines").gates.ceiling_clears_baselines
    assert gate.candidate == "oracle" and gate.n >= 1000
    assert gate.passes == (gate.low > 0 and gate.relative >= gates.CEILING_LIFT)
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(committed_study.reports_root()))
    found = claims.evaluate("rl_teacher_best", claims.Results.load("default"))
    if not gate.passes:
        assert found.verdict == claims.UNTESTABLE
        assert "ceiling clears baselines" in found.note


def test_teacher_gates_are_recorded_and_consistent_with_their_numbers():
    results = committed("03_grpo")
    recorded = results.gates
    imitation = recorded.imitation
    assert imitation.passes == (imitation.ratio >= gates.IMITATION_BAR)
    assert imitation.ratio == pytest.approx(imitation.policy / imitation.demonstrations)
    shares = recorded.format.shares
    assert set(shares) == {"prompt_only", "rl_teacher", "rl_teacher_verifiable"}
    assert recorded.format.passes == all(v >= gates.FORMAT_BAR for v in shares.values())
    for gate in (recorded.reward_validity, recorded.grpo_improves, recorded.verifiable_validity,
                 recorded.verifiable_improves, recorded.beats_prompt_only):
        assert gate.passes == (gate.low > 0), gate.what
        assert gate.low <= gate.diff <= gate.high, gate.what
        assert gate.n >= 200, gate.what  # validation users: enough for a paired interval
    half = recorded.half_gap
    assert half.passes == (half.share is not None and half.share >= half.bar)
    assert half.bar == gates.GAP_SHARE
    assert results.n_val_users >= 200
    assert results.instrument_ok == all(getattr(recorded, name).passes
                                        for name in type(recorded).model_fields)
    assert results.feeds_04_06 == params.load_recipe("default").teacher_reward


def test_teacher_claims_wait_for_the_teacher_gates():
    """A failed gate of a teacher makes that teacher's claims untestable: the paper's
    reward guards its RL claim and the ablation, the verifiable reward its own RL claim."""
    recorded = committed("03_grpo").gates
    found = {c.key: c for c in claims.evaluate_all(
        committed_files("02_rewards", "03_grpo", "03b_baselines"))}
    for names, keys in ((claims.TEACHER_GATES, ("rl_teacher_best", "reward_ablation")),
                        (claims.VERIFIABLE_GATES, ("rl_teacher_verifiable",))):
        failed = [name for name in names if claims.WORLD_GATES[name][0] == "03_grpo"
                  and getattr(recorded, claims.WORLD_GATES[name][1][1]).passes is False]
        for key in keys if failed else ():
            assert found[key].verdict == claims.UNTESTABLE, key


def test_teacher_imitates_and_writes_well_formed_lists():
    """What the default teachers were shown to do: the warm start imitates its
    demonstrations, every served list is well-formed, and each reward's improvement was
    measured on enough validation users."""
    recorded = committed("03_grpo").gates
    assert recorded.imitation.passes and recorded.imitation.ratio >= 0.9
    assert recorded.format.passes
    assert recorded.grpo_improves.n >= 200 and recorded.verifiable_improves.n >= 200


def test_ladder_gates_are_recorded_and_consistent_with_their_numbers():
    """04: every size's imitation and format check, from its validation record."""
    results = committed("04_scaling")
    recorded, validation = results.gates, results.validation
    assert set(validation) == set(results.sizes) and len(validation) >= 5
    assert results.param_span >= 30 and recorded.span_30x.passes
    for size, row in validation.items():
        assert row.share_of_demonstrations == pytest.approx(
            row.recall_at_10_warm_start / row.demonstrations_recall_at_10), size
        assert row.imitation_passes == (row.share_of_demonstrations >= gates.IMITATION_BAR)
        assert row.format_passes == (row.well_formed >= gates.FORMAT_BAR)
    failing = sorted(s for s, row in validation.items() if not row.imitation_passes)
    assert sorted(recorded.sizes_imitate.failing) == failing
    assert recorded.sizes_imitate.passes == (not failing)
    assert recorded.largest_size_retrieves.recall_at_10 > 0  # the largest size is not dead
    assert results.n_eval_users == committed("03_grpo").n_eval_users  # one user set


def test_best_of_n_gains_are_paired_and_the_claim_waits_for_the_ladder_and_teacher():
    results = committed("04_scaling")
    gains = results.best_of_n_gains
    assert sorted(gains) == sorted(results.best_of_n) == [1, 2, 4, 8, 16, 32]
    for gain in gains.values():
        assert gain.low <= gain.mean <= gain.high and gain.n >= 150
    d = results.best_of_n_diminishing
    assert d.holds == (d.difference.low > 0)
    found = {c.key: c for c in claims.evaluate_all(
        committed_files("02_rewards", "03_grpo", "04_scaling"))}
    if not results.gates.sizes_imitate.passes or not results.gates.sizes_well_formed.passes:
        assert found["capacity_scaling"].verdict == claims.UNTESTABLE


def test_distillation_teacher_is_the_largest_size_and_read_not_re_evaluated():
    distilled, scaled = committed("05_distillation"), committed("04_scaling")
    assert distilled.teacher_model == scaled.distillation_teacher.size
    assert distilled.params.teacher / distilled.params.student >= 30
    assert distilled.gates.student_30x_smaller.passes
    assert len(distilled.seeds) >= 3
    teacher = distilled.distillation["teacher"].recall_at_10.mean
    assert teacher == pytest.approx(scaled.capacity[distilled.teacher_model].recall_at_10.mean)


def test_distillation_claim_waits_for_a_teacher_that_beats_no_distillation():
    results = committed("05_distillation")
    gate = results.gates.teacher_beats_no_distillation
    assert gate.passes == (gate.low > 0)
    found = {c.key: c for c in claims.evaluate_all(
        committed_files("02_rewards", "04_scaling", "05_distillation"))}
    if not gate.passes:
        assert found["distillation_order"].verdict == claims.UNTESTABLE
        # a share of a gap that is not there is either withheld or carries an interval
        # that includes 0 (no evidence that any share was closed)
        assert all(row.share_of_gap_closed.mean is None or row.share_of_gap_closed.low <= 0
                   for row in results.gap_share.values())


def test_readme_reads_the_committed_results_as_its_example_says():
    """The README's example of reading a results file through its model gives what it
    shows."""
    readme = (paths.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    teacher = committed("03_grpo")
    for name in ("rl_teacher", "rl_teacher_verifiable"):
        assert f"# '{teacher.offline[name].metrics.recall_at_10.text()}'" in readme, name
    assert f"# {teacher.gates.imitation.passes}" in readme


def test_committed_results_name_no_machine_path():
    """Results record paths relative to their root (a checkpoint under the artifacts
    root as ``default/models/...``): no string in a committed results file is absolute."""
    def strings(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    for profile in ("default", "pretrained"):
        folder = committed_study.report_dir(profile) / "results"
        for path in sorted(folder.glob("*.json")):
            found = [text for text in strings(read_json(path)) if text.startswith(("/", "~"))]
            assert found == [], f"{profile}/{path.name}: {found}"
