"""The world's instrument: legal strategies read no latent truth, the serving-path grid
agrees with direct retrieval, the gates compute what they claim, the sensitivity sweep
changes one knob at a time."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from newsstudy import evaluation, gates, params
from newsstudy.baselines import TrainSettings
from newsstudy.fusion import FUSION
from newsstudy.rewards import serving_path
from newsstudy.world import sensitivity, strategies


@pytest.fixture(scope="module")
def ctx(smoke_world, static_embedder):
    return strategies.StrategyContext(smoke_world, static_embedder, 5, 0)


def test_share_slots_by_hand():
    assert strategies.share_slots([3, 1], 5) == [4, 1]
    assert strategies.share_slots([1, 1, 1], 2) == [1, 1, 0]
    assert strategies.share_slots([0.5, 0.3, 0.2], 5) == [3, 1, 1]  # 2.5, 1.5, 1.0
    assert sum(strategies.share_slots(np.random.default_rng(0).random(7), 5)) == 5
    assert strategies.share_slots([], 5) == []


def test_legal_strategies_read_no_latent_truth(ctx, smoke_world):
    """Scrambling the latent interests and the held-out clicks leaves copy and infer as
    they were (and changes the oracle, which does read them)."""
    users = smoke_world.split_users("test")[:25]
    before = {name: strategies.completions_for(ctx, getattr(strategies, name), users)
              for name in ("copy", "infer", "oracle")}
    rng = np.random.default_rng(1)
    saved = ctx.interests
    scrambled = smoke_world.interests.assign(
        topic=rng.permutation(smoke_world.interests["topic"].to_numpy()),
        terms=list(rng.permutation(np.array(smoke_world.interests["terms"].tolist(),
                                            dtype=object))))
    ctx.interests = {int(u): g.sort_values("weight", ascending=False)
                     for u, g in scrambled.groupby("user_id")}
    try:
        after = {name: strategies.completions_for(ctx, getattr(strategies, name), users)
                 for name in ("copy", "infer", "oracle")}
    finally:
        ctx.interests = saved
    pd.testing.assert_series_equal(before["copy"], after["copy"])
    pd.testing.assert_series_equal(before["infer"], after["infer"])
    assert not before["oracle"].equals(after["oracle"])


def test_infer_shares_slots_by_topic_weight(ctx, smoke_world):
    user = int(smoke_world.split_users("test")[0])
    text = strategies.infer(ctx, user)
    assert text.count("|") == ctx.n_queries - 1 or "no signals" in text
    assert strategies.infer(ctx, user) == text  # deterministic


def test_serving_grid_matches_direct_retrieval(smoke_world, ctx):
    users = smoke_world.split_users("val")[:20]
    lists = {"copy": strategies.completions_for(ctx, strategies.copy, users).to_dict()}
    retriever = evaluation.serving_retriever(smoke_world, "static", "exact", 10)
    grid = {"fusion": tuple(FUSION), "k_per_query": (3, 10), "query_words": (None, 2)}
    per_user = serving_path.serving_grid(smoke_world, retriever, lists, grid)
    assert retriever.k_per_query == 10  # restored
    for fusion in FUSION:
        for k in (3, 10):
            direct = evaluation.serving_retriever(smoke_world, "static", "exact", k_per_query=k)
            expected = evaluation.evaluate_completions(smoke_world, direct, lists["copy"],
                                                       fusion=fusion)["recall@10"]
            got = per_user[(per_user["fusion"] == fusion) & (per_user["k_per_query"] == k)
                           & (per_user["query_words"] == "whole")].set_index("user")["recall@10"]
            pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(),
                                           check_names=False)
    table, chosen = serving_path.choose(per_user)
    best = table.loc[table["mean over strategies"].idxmax()]
    assert chosen["fusion"] == best["fusion"] and chosen["k_per_query"] == best["k_per_query"]
    assert serving_path.cut_query("a b c", 2) == "a b"


def long_scores(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"strategy": name, "user": range(len(v)), "recall@10": v})
                      for name, v in values.items()])


def test_lift_gate_by_hand():
    base = np.linspace(0.1, 0.3, 40)
    scores = long_scores({"a": list(base * 1.2 + 0.001), "b": list(base)})
    gate = gates.lift_gate(scores, "a", "b", 0.15)
    assert gate.diff == pytest.approx((base * 0.2 + 0.001).mean())
    assert gate.relative == pytest.approx(gate.diff / base.mean())
    assert gate.passes
    assert not gates.lift_gate(scores, "a", "b", 0.25).passes  # lift 20% < 25%
    noisy = long_scores({"a": list(base + np.where(np.arange(40) % 2, 0.2, -0.19)),
                         "b": list(base)})
    assert not gates.lift_gate(noisy, "a", "b", 0.0).passes  # interval spans zero
    with pytest.raises(ValueError, match="nosuch"):
        gates.lift_gate(scores, "nosuch", "b", 0.1)


def test_degenerate_and_order_gates():
    totals = pd.Series({"oracle": 4.0, "infer": 3.6, "copy": 3.0, "generic": 2.0,
                        "random": 2.8})
    table = gates.degenerate_gate(totals, "copy", ["generic", "random"])
    assert table.set_index("strategy").passes.to_dict() == {"generic": True, "random": False}
    assert table.set_index("strategy").loc["random", "share of copy"] == pytest.approx(2.8 / 3)
    record = gates.degenerate_record(table)
    assert not record.passes and set(record.strategies) == {"generic", "random"}
    assert record.strategies["random"].share_of_copy == pytest.approx(2.8 / 3)
    assert gates.order_gate(totals, ["oracle", "infer", "copy", "random", "generic"]).passes
    assert not gates.order_gate(totals, ["oracle", "copy", "infer"]).passes


def test_sensitivity_variants_change_one_knob_each():
    base = params.load_params("01_data", "smoke")
    rows = sensitivity.variants(base)
    assert len(rows) == 1 + 2 * len(sensitivity.SETTINGS)
    assert rows[0][3] == base
    for knob, level, value, changed in rows[1:]:
        differs = {k for k, v in changed.model_dump().items() if v != base.model_dump()[k]}
        assert knob in differs and differs <= {knob, "min_interests"}, (knob, differs)
        assert getattr(changed, knob) == value
        assert changed.min_interests <= changed.max_interests
        assert level in ("low", "high")


@pytest.mark.slow
def test_sensitivity_sweep_in_workers_equals_the_serial_sweep():
    """Worlds scored in two worker processes give the serial sweep's rows, value for value."""
    base = params.load_params("01_data", "smoke")
    baselines = params.schema_defaults("03b_baselines")
    gru = dataclasses.replace(TrainSettings.from_params(baselines), epochs=1, patience=1)
    kwargs = dict(n_users=120, n_queries=5, fusion="rrf", k_per_query=20, gru=gru,
                  val_days=baselines.val_days,
                  settings={"noise_rate": sensitivity.SETTINGS["noise_rate"]}, log=lambda *_: None)
    serial = sensitivity.sweep(base, workers=1, **kwargs)
    parallel = sensitivity.sweep(base, workers=2, **kwargs)
    assert list(serial["knob"].unique()) == ["default", "noise_rate"]
    pd.testing.assert_frame_equal(serial, parallel)
