"""Distillation: reverse-KL measurement, on-policy and supervised distillation, serving speed.

Tiny ladder models on a tokenizer fitted to a handful of texts, so the file runs in
well under a minute on two cores. The teacher is an "s" model fine-tuned on one fixed
completion (a peaky distribution the student can move towards); students are "xs".
"""

from __future__ import annotations

import math

import pytest
import torch

from newsstudy.policy import distill, generate, ladder, sft
from newsstudy.policy.tokenizer import train_tokenizer

TEXTS = ["donald trump order latest", "northern party discussion thread",
         "brexit vote result news", "football league match report",
         "stock market falls on rate fears", "climate summit paris deal",
         "election polls tighten in ohio", "new vaccine trial results"]
COMPLETION = ("<think>recent: search</think>"
              "<queries>brexit vote | market falls | climate deal</queries>")
MAX_NEW = 24


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run as fast on one thread, and far faster when the other core is busy."""
    with generate.torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS * 4 + [COMPLETION], vocab_size=400, min_frequency=1)


@pytest.fixture(scope="module")
def prompts() -> list[str]:
    return [f"<bos>signals:\nsearch: {t}\nwrite news search queries:\n" for t in TEXTS]


@pytest.fixture(scope="module")
def teacher(tok, prompts, tmp_path_factory):
    model = ladder.build_policy("s", tok, seed=1)
    model, _ = sft.train_sft(model, tok, prompts * 3, [COMPLETION] * (3 * len(prompts)),
                             lr=1e-2, epochs=8, batch_size=8, seed=0,
                             output_dir=tmp_path_factory.mktemp("teacher"), progress=False)
    return model.eval()


def student(tok, seed: int = 2):
    return ladder.build_policy("xs", tok, seed=seed)


# ------------------------------------------------------------------------- reverse_kl

def test_reverse_kl_is_zero_against_itself_and_positive_against_another_init(tok, prompts):
    a, b = student(tok, 2), student(tok, 3)
    completions = [COMPLETION, "<queries>x | y</queries>", "", "football"] * 2
    assert distill.reverse_kl(a, a, tok, prompts, completions) == pytest.approx(0.0, abs=1e-6)
    assert distill.reverse_kl(a, b, tok, prompts, completions) > 1e-3


def _hand_kl(s_model, t_model, tok, prompts, completions) -> float:
    """Token-mean KL(s || t) by explicit softmax, one unpadded sequence at a time."""
    total, count = 0.0, 0
    for prompt, completion in zip(prompts, completions, strict=True):
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = torch.tensor([p + c])
        with torch.no_grad():
            ls, lt = s_model(ids).logits[0].double(), t_model(ids).logits[0].double()
        for t in range(len(p) - 1, len(p) + len(c) - 1):
            ps = torch.exp(ls[t] - ls[t].max())
            ps = ps / ps.sum()
            pt = torch.exp(lt[t] - lt[t].max())
            pt = pt / pt.sum()
            total += float((ps * (ps.log() - pt.log())).sum())
            count += 1
    return total / count


def test_reverse_kl_matches_explicit_softmax_with_padding_and_different_widths(tok, prompts,
                                                                              teacher):
    s = student(tok, 4)
    chosen = prompts[:3]
    completions = [COMPLETION, "<queries>vote</queries>", "paris"]
    expected = _hand_kl(s, teacher, tok, chosen, completions)
    got = distill.reverse_kl(s, teacher, tok, chosen, completions, batch_size=2)
    assert got == pytest.approx(expected, rel=1e-4)
    nested = distill.reverse_kl(s, teacher, tok, chosen, [[c] for c in completions])
    assert nested == pytest.approx(expected, rel=1e-4)
    assert s.training and not teacher.training  # modes restored


def test_reverse_kl_rejects_mismatched_lengths(tok, prompts):
    a = student(tok)
    with pytest.raises(ValueError, match="one completion"):
        distill.reverse_kl(a, a, tok, prompts, ["x"])
    assert math.isnan(distill.reverse_kl(a, a, tok, [], []))


# ------------------------------------------------------------------------- on-policy

def test_on_policy_distill_lowers_reverse_kl_to_the_teacher(tok, prompts, teacher):
    model = student(tok, 5)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}

    def kl_on_own_samples(m, seed=0):
        return distill.sampled_reverse_kl(m, teacher, tok, prompts, n_samples=2,
                                          max_new_tokens=MAX_NEW, seed=seed)

    before = kl_on_own_samples(model)
    model, history = distill.on_policy_distill(
        model, teacher, tok, prompts, steps=20, lr=1e-2, batch_size=8,
        max_completion_length=MAX_NEW, progress=False,
        eval_fn=kl_on_own_samples, eval_every=10, eval_name="kl_eval")
    after = kl_on_own_samples(model, seed=1)
    assert after < 0.8 * before

    train_logs = [h for h in history if "reverse_kl" in h]
    assert [h["step"] for h in train_logs] == list(range(1, 21))
    assert all(h["reverse_kl"] == h["loss"] >= 0 for h in train_logs)
    curves = distill.distill_curves(history)
    assert {"step", "reverse_kl", "entropy", "kl_eval"} <= set(curves.columns)
    assert curves.dropna(subset=["kl_eval"])["step"].tolist() == [0, 10, 20]
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key


def test_on_policy_distill_needs_a_full_batch(tok, prompts, teacher):
    with pytest.raises(ValueError, match="batch_size"):
        distill.on_policy_distill(student(tok), teacher, tok, prompts[:3], steps=1, lr=1e-3,
                                  batch_size=4, max_completion_length=MAX_NEW)


# ------------------------------------------------------------------------- supervised

@pytest.fixture(scope="module")
def teacher_samples(tok, prompts, teacher):
    return generate.sample_completions(teacher, tok, prompts, n_samples=2, max_new_tokens=MAX_NEW,
                                       progress=False)


def test_supervised_distill_lowers_the_students_loss(tok, prompts, teacher_samples, tmp_path):
    model, history = distill.supervised_distill(
        student(tok, 6), tok, prompts, teacher_samples, lr=8e-3, epochs=4, batch_size=4,
        output_dir=tmp_path, progress=False, logging_steps=1)
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) >= 8 and losses[-1] < losses[0]


def test_supervised_distill_records_the_eval_curve(tok, prompts, teacher_samples):
    _, history = distill.supervised_distill(
        student(tok, 7), tok, prompts, teacher_samples, lr=8e-3, epochs=2, batch_size=4,
        progress=False, eval_fn=lambda m: 0.5, eval_every=2, eval_name="recall@10")
    curves = distill.distill_curves(history)
    assert curves.dropna(subset=["recall@10"])["step"].tolist() == [0, 2, 4, 6, 8]


# ------------------------------------------------------------------------- serving

def test_serving_speed_reports_positive_throughput_and_ordered_latencies(tok, prompts):
    speed = distill.serving_speed(student(tok), tok, prompts, batch_size=3, max_new_tokens=8)
    assert speed["users"] == len(prompts) and speed["batch_size"] == 3
    assert speed["users_per_second"] > 0 and speed["tokens_per_second"] > 0
    assert 0 < speed["p50_latency_s"] <= speed["p95_latency_s"]
    assert 0 < speed["mean_new_tokens"] <= 8


def test_serving_speed_measures_the_time_inside_the_model(tok, prompts):
    speed = distill.serving_speed(student(tok), tok, prompts, batch_size=3, max_new_tokens=8)
    assert 0 < speed["forward_share"] <= 1


def test_forward_clock_counts_only_the_forward_passes():
    import time

    import torch

    class Slow(torch.nn.Module):
        def forward(self, x):
            time.sleep(0.02)
            return x

    model = Slow()
    with distill.forward_clock(model) as inside:
        model(torch.zeros(1))
        time.sleep(0.05)  # outside the model
        model(torch.zeros(1))
    assert 0.035 < inside[0] < 0.08
    model(torch.zeros(1))  # the hooks are gone after the block
    assert inside[0] < 0.08


def test_serving_speeds_take_turns_and_report_the_median(monkeypatch, tmp_path):
    from newsstudy.distillation import students

    calls, speeds = [], iter([1.0, 10.0, 3.0, 20.0, 2.0, 30.0])
    monkeypatch.setattr(students.checkpoints.PolicyStore, "load",
                        staticmethod(lambda path: (str(path), "tok", {})))

    def fake_speed(model, tokenizer, prompts, batch_size, max_new_tokens):
        calls.append(model)
        return {"users_per_second": next(speeds), "p50_latency_s": 1.0}

    monkeypatch.setattr(students.distill, "serving_speed", fake_speed)
    out = students.serving_speeds(tmp_path / "t", tmp_path / "s", ["p"], 4, 8, repeats=3)
    assert [c.endswith("t") for c in calls] == [True, False] * 3  # turns
    assert out["teacher"]["users_per_second"] == 2.0 and out["student"]["users_per_second"] == 20.0
    assert out["teacher"]["users_per_second_runs"] == [1.0, 3.0, 2.0]
    assert out["speedups"] == [10.0, 20.0 / 3.0, 15.0]
