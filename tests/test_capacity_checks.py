"""Held-out SFT loss, the distillation gap share, the tokenizer cache, the headline figure,
and the claims that read 04's paired records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from newsstudy.distillation.tables import gap_share_table
from newsstudy.policy import generate, ladder, sft
from newsstudy.policy import tokenizer as tok_mod
from newsstudy.report import claims, headline

TEXTS = ["brexit vote result news", "football league match report",
         "stock market falls on rate fears", "climate summit paris deal"]


@pytest.fixture(scope="module")
def tok():
    with generate.torch_threads(1):
        yield tok_mod.train_tokenizer(TEXTS * 4, vocab_size=400, min_frequency=1)


def test_completion_loss_matches_the_models_own_masked_loss(tok):
    model = ladder.build_policy("xs", tok, seed=0)
    prompt, completion = "<bos>signals:\nsearch: brexit vote\n", "<queries>brexit vote</queries>"
    got = sft.completion_loss(model, tok, [prompt], [completion])
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([p + c])
    labels = torch.tensor([[-100] * len(p) + c])
    with torch.no_grad():
        expected = float(model(input_ids=ids, labels=labels).loss)  # HF's shifted CE
    assert got == pytest.approx(expected, rel=1e-5)
    # a batch of unequal lengths is the token-weighted mean of the pairs
    other = ("<bos>signals:\nsearch: football league match report now\n", "<queries>football</queries>")
    both = sft.completion_loss(model, tok, [prompt, other[0]], [completion, other[1]], batch_size=2)
    alone = sft.completion_loss(model, tok, [other[0]], [other[1]])
    n1, n2 = len(c), len(tok(other[1], add_special_tokens=False)["input_ids"]) + 1
    assert both == pytest.approx((got * n1 + alone * n2) / (n1 + n2), rel=1e-5)


def test_gap_share_by_hand():
    rows = []
    for user, (teacher, none, student) in enumerate([(0.4, 0.2, 0.3), (0.6, 0.2, 0.5),
                                                     (0.5, 0.3, 0.3)]):
        rows += [{"user": user, "method": "teacher", "recall@10": teacher},
                 {"user": user, "method": "none", "recall@10": none},
                 {"user": user, "method": "on-policy", "recall@10": student}]
    table = gap_share_table(pd.DataFrame(rows), ["on-policy"], n_boot=200).iloc[0]
    gain, gap = np.mean([0.1, 0.3, 0.0]), np.mean([0.2, 0.4, 0.2])
    assert table["share of gap closed"] == pytest.approx(gain / gap)
    assert table["gain over none"] == pytest.approx(gain)
    assert table["vs teacher"] == pytest.approx(np.mean([-0.1, -0.1, -0.2]))
    assert table["share low"] <= table["share of gap closed"] <= table["share high"]


def test_tokenizer_save_replaces_atomically(tok, tmp_path):
    folder = tmp_path / "tokenizer-x"
    tok_mod.save_tokenizer(tok, folder)
    (folder / "tokenizer.json").write_text("{truncated")
    tok_mod.save_tokenizer(tok, folder)  # over a damaged copy
    assert len(tok_mod.load_tokenizer(folder)) == len(tok)
    assert [p.name for p in tmp_path.iterdir()] == ["tokenizer-x"]  # no staging left behind


def _results(files):
    return claims.Results(files)


def test_best_of_n_claim_reads_the_paired_gain_and_the_diminishing_test():
    from newsstudy.scaling.results import BestOfNRow

    best = {n: {**dict.fromkeys(BestOfNRow.model_fields, 0.3), "recall_at_10_reward_picked": r}
            for n, r in {1: 0.10, 4: 0.12, 32: 0.13}.items()}
    gains = {32: {"mean": 0.03, "low": 0.01, "high": 0.05, "n": 100, "p_value": 0.01}}
    diminishing = {"split": 4, "first_n": 1, "last_n": 32, "early_gain_per_doubling": 0.01,
                   "late_gain_per_doubling": 0.003, "p_value": 0.01, "holds": True,
                   "difference": {"mean": 0.007, "low": 0.002, "high": 0.012, "n": 100}}
    outcome = claims.check_best_of_n(_results({"04_scaling": {
        "best_of_n": best, "best_of_n_gains": gains, "best_of_n_diminishing": diminishing}}))
    assert [p.clearly for p in outcome.parts] == [True, True]
    assert claims.verdict(outcome.parts) == claims.REPRODUCED
    assert outcome.effect.ours.low == 0.01
    diminishing |= {"difference": {"mean": 0.007, "low": -0.001, "high": 0.012, "n": 100},
                    "holds": False}
    outcome = claims.check_best_of_n(_results({"04_scaling": {
        "best_of_n": best, "best_of_n_gains": gains, "best_of_n_diminishing": diminishing}}))
    assert claims.verdict(outcome.parts) == claims.PARTLY


def test_capacity_claim_waits_for_every_size_to_pass_its_bars():
    from newsstudy.results import Estimate
    from newsstudy.scaling.results import CapacityRow

    capacity = {s: CapacityRow(params=int(p), recall_at_10=Estimate.of(r, r - 0.01, r + 0.01),
                               ndcg_at_10=Estimate.of(r), recall_at_10_relative=None, reward=3.0,
                               train_flops=1e12, train_seconds=None).model_dump()
                for s, p, r in (("xs", 1e5, 0.1), ("xl", 4e6, 0.2))}
    files = {"04_scaling": {"capacity": capacity, "gates": {
        "sizes_imitate": {"passes": False, "failing": ["xl"], "shares": {"xl": 0.8}},
        "sizes_well_formed": {"passes": True, "failing": []},
        "span_30x": {"passes": True, "span": 40.0}}}}
    claim = claims.evaluate("capacity_scaling", _results(files))
    assert claim.verdict == claims.UNTESTABLE
    assert "fails for xl" in claim.note and "xl 80.0%" in claim.note


def test_headline_figure_is_written_for_every_claim(tmp_path):
    found = claims.evaluate_all(_results({}))
    path = headline.save_headline(found, tmp_path / "headline.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = headline.save_headline(found, tmp_path / "again.png")
    assert again.read_bytes() == path.read_bytes()  # same claims, same bytes


def test_complete_offline_table_has_every_part_on_common_users():
    from newsstudy.baselines import tables as baseline_tables

    def rows(methods, users):
        return pd.DataFrame([{"method": m, "seed": 0, "user": u, "is_cold": False,
                              **{k: 0.1 * (i + 1) for k in ("recall@5", "recall@10", "ndcg@5",
                                                           "ndcg@10", "mrr")}}
                             for i, m in enumerate(methods) for u in users])

    complete = baseline_tables.complete_offline(
        rows(["gru4rec", "hstu", "popularity"], [1, 2, 3, 4]),
        rows(["prompt-only", "RL teacher", "copy (heuristic)"], [2, 3, 4]),
        rows(["on-policy", "none"], [3, 4, 5]))
    assert set(complete["user"]) == {3, 4}
    assert set(complete["method"]) == {"gru4rec", "hstu", "popularity", "prompt_only_32b", "rl_teacher_32b",
                                       "student_0_5b"}
    table = baseline_tables.display_table(baseline_tables.summarise(complete))
    assert list(table["method"])[-1].startswith("Distilled student")
    assert table["method"].str.contains(r"\(best\)").sum() == 1
    only_student = baseline_tables.complete_offline(None, None, rows(["on-policy"], [1, 2]))
    assert baseline_tables.display_table(baseline_tables.summarise(only_student)).shape[0] == 1


def test_capacity_settings_take_each_sizes_recipe_from_params_and_a_profile_changes_only_what_it_names():
    from newsstudy import schemas
    from newsstudy.params import ParamsError, load_params
    from newsstudy.scaling import capacity

    P = load_params("04_scaling", "smoke", {"capacity_sft_epochs": {"xs": 11},
                                            "capacity_sft_learning_rates": {"s": 0.005},
                                            "capacity_grpo_learning_rates": {"s": 0.004}})
    xs, s = capacity.size_settings(P, "xs"), capacity.size_settings(P, "s")
    assert (xs.sft_epochs, xs.sft_learning_rate, xs.grpo_learning_rate) == (
        11, schemas.LADDER_SFT_LEARNING_RATES["xs"], schemas.LADDER_GRPO_LEARNING_RATES["xs"])
    assert (s.sft_epochs, s.sft_learning_rate, s.grpo_learning_rate) == (
        schemas.LADDER_SFT_EPOCHS["s"], 0.005, 0.004)
    assert set(P.capacity_sft_epochs) == set(ladder.LADDER)  # every size has its value
    with pytest.raises(ParamsError, match="capacity_grpo_learning_rates: values must be positive"):
        load_params("04_scaling", "smoke", {"capacity_grpo_learning_rates": {"xs": 0}})
    assert xs.n_train_users == P.capacity_train_users and xs.grpo_steps == P.capacity_grpo_steps
    assert xs.imitation_curve_users == 0
    with pytest.raises(ParamsError, match=r"capacity_sft_epochs: \['m'\] are not among sizes"):
        load_params("04_scaling", "smoke", {"capacity_sft_epochs": {"m": 3}})


def test_the_distillation_student_trains_in_04s_regime():
    """05's student sees 04's users and GRPO steps, so its no-distillation policy is 04's."""
    from newsstudy.params import load_params
    from newsstudy.scaling import capacity

    regime = capacity.regime_of("smoke")
    scaling = load_params("04_scaling", "smoke")
    distill = load_params("05_distillation", "smoke")
    assert regime["capacity_train_users"] == scaling.capacity_train_users
    student = capacity.size_settings(distill, distill.student, regime)
    own = capacity.size_settings(scaling, distill.student)
    fields = ("model", "n_train_users", "grpo_steps", "sft_epochs", "sft_learning_rate",
              "grpo_learning_rate", "imitation_curve_users")
    assert {f: getattr(student, f) for f in fields} == {f: getattr(own, f) for f in fields}


def test_distillation_per_user_and_seed_spread_by_hand():
    from newsstudy.distillation import tables as distillation_tables

    teacher_rows = pd.DataFrame({"user": [1, 2], "recall@10": [0.5, 0.7], "method": "teacher",
                                 "seed": 0})
    measured = [
        {"method": "none", "seed": 0, "test": [{"user": 1, "recall@10": 0.1},
                                               {"user": 2, "recall@10": 0.3}],
         "reverse_kl": 2.0, "well_formed": 1.0},
        {"method": "none", "seed": 1, "test": [{"user": 1, "recall@10": 0.3},
                                               {"user": 2, "recall@10": 0.5}],
         "reverse_kl": 3.0, "well_formed": 0.5}]
    per_user = distillation_tables.per_user_table(teacher_rows, measured)
    assert len(per_user) == 6 and per_user["method"].tolist()[:2] == ["teacher", "teacher"]
    spread = distillation_tables.seed_spread(per_user)
    assert list(spread.index) == ["none"]  # the teacher has no seeds to spread over
    assert spread["none"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    runs = distillation_tables.kl_runs_table(measured)
    assert runs["reverse KL"].tolist() == [2.0, 3.0] and runs["well-formed"].tolist() == [1.0, 0.5]
