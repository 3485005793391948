"""The paper profile: its params and hardware files validate, and the dry run plans the GPU
work (models, steps, per-GPU memory) without loading a weight."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import yaml

from newsstudy import paths
from newsstudy.params import ParamsError, load_params, notebooks, profiles
from newsstudy.run import gpu_plan

PAPER_MODELS = [f"Qwen/Qwen2.5-{size}-Instruct" for size in ("0.5B", "1.5B", "3B", "7B", "14B",
                                                              "32B")]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A copy of params/ and configs/ that the tests may edit; paths point at it."""
    shutil.copytree(paths.PARAMS_DIR, tmp_path / "params")
    shutil.copytree(paths.PROJECT_ROOT / "configs", tmp_path / "configs")
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path / "params")
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path)
    return tmp_path


def edit_hardware(root, **changes) -> None:
    path = root / "configs" / "paper" / "hardware.yaml"
    values = yaml.safe_load(path.read_text()) | changes
    path.write_text(yaml.safe_dump(values))


def test_paper_is_a_profile_with_every_notebook():
    assert "paper" in profiles()
    for notebook in notebooks():
        assert load_params(notebook, "paper").profile == "paper"


def test_paper_grpo_trains_the_papers_teacher():
    grpo = load_params("03_grpo", "paper")
    hardware = gpu_plan.load_hardware("paper")
    assert grpo.model == "Qwen/Qwen2.5-32B-Instruct"  # named once, by the recipe
    assert "teacher" not in gpu_plan.HardwareSettings.model_fields
    assert gpu_plan.plan("paper")["stages"][0]["model"] == grpo.model
    assert hardware.student == "Qwen/Qwen2.5-0.5B-Instruct"
    assert hardware.scaling == PAPER_MODELS and hardware.dtype == "bfloat16"


@pytest.mark.parametrize("model", PAPER_MODELS)
def test_parameter_counts_match_the_architecture(model):
    """The hand-written shapes give the same count as transformers' Qwen2 on the meta device,
    and the model card's within 1%."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    facts = gpu_plan.QWEN25[model]
    config = Qwen2Config(hidden_size=facts.hidden, num_hidden_layers=facts.layers,
                         num_attention_heads=facts.heads, num_key_value_heads=facts.kv_heads,
                         intermediate_size=facts.intermediate, vocab_size=facts.vocab,
                         tie_word_embeddings=facts.tied)
    with torch.device("meta"):
        built = Qwen2ForCausalLM(config)
    assert facts.parameters() == sum(p.numel() for p in built.parameters())
    assert facts.parameters() / 1e9 == pytest.approx(facts.reported, rel=0.01)
    assert facts.kv_bytes_per_token() == 2 * facts.layers * facts.kv_heads * facts.head_dim * 2


def test_lora_parameter_count_matches_peft():
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    facts = gpu_plan.QWEN25["Qwen/Qwen2.5-0.5B-Instruct"]
    config = Qwen2Config(hidden_size=facts.hidden, num_hidden_layers=facts.layers,
                         num_attention_heads=facts.heads, num_key_value_heads=facts.kv_heads,
                         intermediate_size=facts.intermediate, vocab_size=facts.vocab,
                         tie_word_embeddings=facts.tied)
    with torch.device("meta"):
        model = get_peft_model(Qwen2ForCausalLM(config), LoraConfig(
            r=16, target_modules=list(gpu_plan.LORA_MODULES), task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert facts.lora_parameters(16, gpu_plan.LORA_MODULES) == trainable


def test_dry_run_prints_the_plan_without_loading_weights(monkeypatch, capsys):
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("the dry run must not load weights")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    result = gpu_plan.dry_run("paper")
    printed = capsys.readouterr().out
    assert "per-GPU memory" in printed and "accelerate launch --config_file" in printed
    assert {row["model"] for row in result["stages"]} == set(PAPER_MODELS)
    assert result["grpo"]["steps"] == 500 and result["sharding"] == "sharded"
    assert result["warnings"] == []  # the shipped settings fit 8 x 80 GiB
    teacher = result["stages"][0]
    assert teacher["model"] == "Qwen/Qwen2.5-32B-Instruct" and teacher["fits"]
    assert 0 < teacher["total"] <= 80


def full_fine_tuning_params(root) -> None:
    """Set lora_rank 0 in every paper params file that has it (full fine-tuning)."""
    for path in (root / "params" / "paper").glob("*.yaml"):
        text = path.read_text()
        path.write_text("\n".join("lora_rank: 0" if line.startswith("lora_rank:") else line
                                  for line in text.splitlines()) + "\n")


def test_lora_rank_must_agree_with_the_hardware_file(tree):
    edit_hardware(tree, lora_rank=32)
    with pytest.raises(ParamsError, match=r"03_grpo.yaml: lora_rank 64 disagrees .* must be 32"):
        gpu_plan.plan("paper")


def test_full_fine_tuning_costs_16_bytes_per_parameter(tree):
    edit_hardware(tree, finetune="full", use_vllm=False)
    full_fine_tuning_params(tree)
    result = gpu_plan.plan("paper")
    teacher = result["stages"][0]
    billions = gpu_plan.QWEN25[teacher["model"]].parameters() / 2**30
    assert teacher["weights"] + teacher["grads"] + teacher["optimizer"] == pytest.approx(
        16 * billions / 8, abs=0.05)
    assert teacher["kv_cache"] > 0  # rollouts by HF generate inside the training process


def test_full_fine_tuning_of_32b_with_vllm_does_not_fit_8_gpus(tree):
    edit_hardware(tree, finetune="full")
    full_fine_tuning_params(tree)
    warnings = gpu_plan.plan("paper")["warnings"]
    assert any("32B" in w for w in warnings)


def test_unknown_key_names_the_file(tree):
    edit_hardware(tree, lora_rnk=8)
    with pytest.raises(ParamsError, match=r"^configs/paper/hardware.yaml: lora_rnk: "):
        gpu_plan.load_hardware("paper")


def test_unknown_model_is_an_error(tree):
    edit_hardware(tree, student="Qwen/Qwen2.5-72B-Instruct")
    with pytest.raises(ParamsError, match="student"):
        gpu_plan.load_hardware("paper")
    edit_hardware(tree, student="Qwen/Qwen2.5-0.5B-Instruct")
    recipe = tree / "params" / "paper" / "teacher.yaml"
    recipe.write_text(recipe.read_text().replace("Qwen/Qwen2.5-32B-Instruct",
                                                 "Qwen/Qwen2.5-72B-Instruct"))
    with pytest.raises(ParamsError, match=r"params/paper/teacher.yaml: model .*72B"):
        gpu_plan.plan("paper")


def test_gpu_count_must_match_the_accelerate_config(tree):
    edit_hardware(tree, num_gpus=4)
    with pytest.raises(ParamsError, match="num_processes 8"):
        gpu_plan.load_hardware("paper")


def test_bad_notebook_params_stop_the_plan(tree):
    path = tree / "params" / "paper" / "teacher.yaml"
    assert "grpo_steps: 500" in path.read_text()
    path.write_text(path.read_text().replace("grpo_steps: 500", "grpo_steps: -1"))
    with pytest.raises(ParamsError, match="grpo_steps"):
        gpu_plan.plan("paper")


@pytest.mark.parametrize("name", ["accelerate_multigpu.yaml", "accelerate_zero3.yaml"])
def test_accelerate_configs_parse(name):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(paths.PROJECT_ROOT / "configs" / name))
    assert config.num_processes == 8 and str(config.mixed_precision) == "bf16"


def test_gpu_settings_are_valid_trainer_and_peft_arguments():
    from trl import GRPOConfig

    hardware = gpu_plan.load_hardware("paper")
    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    assert set(gpu_plan.grpo_config_overrides(hardware)) <= fields
    lora = gpu_plan.lora_config(hardware)
    assert lora.r == hardware.lora_rank and set(lora.target_modules) == set(
        hardware.lora_target_modules)
    assert gpu_plan.lora_config(hardware.model_copy(update={"finetune": "full"})) is None


def test_vllm_tensor_parallel_auto_grows_with_the_model():
    hardware = gpu_plan.load_hardware("paper")
    sizes = [gpu_plan.vllm_tensor_parallel(m, hardware) for m in PAPER_MODELS]
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] > 1


def test_gpu_overrides_keep_the_users_per_step(tmp_path):
    from newsstudy.rewards import RewardWeights
    from newsstudy.teacher import grpo

    settings = grpo.GRPOSettings(steps=1, users_per_step=4, num_generations=8,
                                 learning_rate=5e-4, beta=0.0, temperature=1.0, top_p=1.0,
                                 duplicate_guard=True, max_completion_length=64, seed=0)
    cpu = grpo.grpo_config(settings, RewardWeights(), str(tmp_path))
    assert cpu.per_device_train_batch_size == 32 and cpu.gradient_accumulation_steps == 1
    gpu = grpo.grpo_config(settings, RewardWeights(), str(tmp_path),
                           overrides={"per_device_train_batch_size": 4,
                                      "gradient_checkpointing": True}, num_processes=2)
    assert gpu.per_device_train_batch_size == 4 and gpu.gradient_accumulation_steps == 4
    assert gpu.activation_checkpointing and gpu.loss_type == "dr_grpo"
    with pytest.raises(ValueError, match="32 lists per step is not a multiple .* = 12"):
        grpo.grpo_config(settings, RewardWeights(), str(tmp_path),
                         overrides={"per_device_train_batch_size": 4}, num_processes=3)
