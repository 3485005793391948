"""The GPU settings of a profile (``configs/<profile>/hardware.yaml``) and what they
mean for training: the Qwen2.5 models' shapes, the validated :class:`HardwareSettings`,
the ``trl.GRPOConfig`` arguments that move a Dr.GRPO run onto the GPUs, and the LoRA
configuration. A CPU profile has no such file and gets no overrides. The plan that
estimates each stage's GPU memory from these is :mod:`newsstudy.run.gpu_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from newsstudy import paths
from newsstudy.params import ParamsError, describe_error, display_path


@dataclass(frozen=True)
class ModelFacts:
    """A decoder-only transformer's shape, enough to count parameters and KV cache.

    Qwen2 layout: q/k/v projections with bias, o projection and SwiGLU MLP without,
    two RMSNorms per layer and a final one; ``tied``: output head shares the embedding.
    """

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool
    reported: float  # parameters as the model card states them, in billions

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def parameters(self) -> int:
        """All parameters (a tied head counted once)."""
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        attention = (self.hidden * q + q) + 2 * (self.hidden * kv + kv) + q * self.hidden
        layer = attention + 3 * self.hidden * self.intermediate + 2 * self.hidden
        head = 0 if self.tied else self.vocab * self.hidden
        return self.vocab * self.hidden + self.layers * layer + self.hidden + head

    def lora_parameters(self, rank: int, modules: Sequence[str]) -> int:
        """Adapter parameters of rank ``rank`` on the named linear modules of every layer."""
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        shapes = {"q_proj": (self.hidden, q), "k_proj": (self.hidden, kv),
                  "v_proj": (self.hidden, kv), "o_proj": (q, self.hidden),
                  "gate_proj": (self.hidden, self.intermediate),
                  "up_proj": (self.hidden, self.intermediate),
                  "down_proj": (self.intermediate, self.hidden)}
        return self.layers * sum(rank * sum(shapes[m]) for m in modules)

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """K and V of every layer for one token."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


# The Qwen2.5-Instruct family the paper uses (teacher 32B, student 0.5B, capacity study
# 0.5B-32B). Shapes from each model's config.json on the Hugging Face Hub
# (huggingface.co/Qwen/Qwen2.5-<size>-Instruct: hidden_size, num_hidden_layers,
# num_attention_heads, num_key_value_heads, intermediate_size, vocab_size,
# tie_word_embeddings); "reported" from the model cards and the Qwen2.5 technical report
# (arXiv:2412.15115, Table 1). The counts computed from the shapes match the cards within
# 1% (the 32B card rounds 32.76B down to 32.5B: within 1%).
QWEN25: dict[str, ModelFacts] = {
    "Qwen/Qwen2.5-0.5B-Instruct": ModelFacts(896, 24, 14, 2, 4864, 151936, True, 0.49),
    "Qwen/Qwen2.5-1.5B-Instruct": ModelFacts(1536, 28, 12, 2, 8960, 151936, True, 1.54),
    "Qwen/Qwen2.5-3B-Instruct": ModelFacts(2048, 36, 16, 2, 11008, 151936, True, 3.09),
    "Qwen/Qwen2.5-7B-Instruct": ModelFacts(3584, 28, 28, 4, 18944, 152064, False, 7.61),
    "Qwen/Qwen2.5-14B-Instruct": ModelFacts(5120, 48, 40, 8, 13824, 152064, False, 14.7),
    "Qwen/Qwen2.5-32B-Instruct": ModelFacts(5120, 64, 40, 8, 27648, 152064, False, 32.5),
}

LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
KnownModel = Literal[tuple(QWEN25)]  # type: ignore[valid-type]


class HardwareSettings(BaseModel):
    """``configs/<profile>/hardware.yaml``: the GPU settings of a profile."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    student: KnownModel = Field(description="Distilled student (Hugging Face id).")
    scaling: list[KnownModel] = Field(min_length=1, description="Capacity-study models.")
    dtype: Literal["bfloat16", "float16", "float32"] = Field(
        default="bfloat16", description="Weight dtype on the GPUs.")
    finetune: Literal["lora", "full"] = Field(
        default="lora", description="Train LoRA adapters on a frozen base, or every weight.")
    lora_rank: int = Field(default=64, ge=1, le=1024, description="LoRA rank r.")
    lora_alpha: int = Field(default=128, ge=1, le=4096, description="LoRA scaling alpha.")
    lora_dropout: float = Field(default=0.05, ge=0, lt=1, description="LoRA dropout.")
    lora_target_modules: list[Literal[LORA_MODULES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(LORA_MODULES), min_length=1,
        description="Linear modules that get adapters.")
    gradient_checkpointing: bool = Field(default=True, description="Recompute activations.")
    per_device_batch_size: int = Field(default=4, ge=1, le=1024,
                                       description="Sequences per GPU per forward/backward.")
    use_vllm: bool = Field(default=True, description="Generate rollouts with vLLM.")
    vllm_mode: Literal["colocate", "server"] = Field(
        default="colocate", description="vLLM inside the training processes, or a server.")
    vllm_gpu_memory_utilization: float = Field(
        default=0.35, gt=0, lt=1, description="Share of each GPU vLLM reserves (colocate).")
    vllm_tensor_parallel_size: int | Literal["auto"] = Field(
        default="auto", description="GPUs one vLLM engine spans; 'auto': per model, the "
        "fewest (1, 2, 4, 8) whose weight share leaves half of vLLM's reserve for KV cache.")
    num_gpus: int = Field(ge=1, le=1024, description="GPUs of the training job.")
    gpu_memory_gib: float = Field(gt=0, le=1024, description="Memory of one GPU, GiB.")
    accelerate_config: str = Field(min_length=1,
                                   description="accelerate config file, from the project root.")

    @model_validator(mode="after")
    def _consistent(self) -> HardwareSettings:
        tp = self.vllm_tensor_parallel_size
        if isinstance(tp, int) and not 1 <= tp <= 64:
            raise ValueError(f"vllm_tensor_parallel_size must be 'auto' or 1..64 (got {tp})")
        if self.use_vllm and self.vllm_mode == "colocate" and isinstance(tp, int) and (
                self.num_gpus % tp):
            raise ValueError(f"num_gpus ({self.num_gpus}) must be a multiple of "
                             f"vllm_tensor_parallel_size ({self.vllm_tensor_parallel_size})")
        return self

    def dtype_bytes(self) -> int:
        return 4 if self.dtype == "float32" else 2


def hardware_path(profile: str) -> Path:
    """``configs/<profile>/hardware.yaml`` (beside ``params/``, not inside it)."""
    return paths.PROJECT_ROOT / "configs" / profile / "hardware.yaml"


def read_yaml(path: Path) -> dict:
    """A YAML file's top-level mapping; ``ParamsError`` naming the file otherwise."""
    where = display_path(path)
    if not path.is_file():
        raise ParamsError(f"{where}: no such file")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParamsError(f"{where}: YAML syntax error: {err}") from err
    if not isinstance(values, dict):
        raise ParamsError(f"{where}: top level must be a mapping (got {type(values).__name__})")
    return values


def load_hardware(profile: str) -> HardwareSettings:
    """The validated hardware settings of a profile; ``ParamsError`` naming file and key."""
    path = hardware_path(profile)
    values = read_yaml(path)
    try:
        settings = HardwareSettings.model_validate(values)
    except ValidationError as err:
        raise ParamsError(f"{display_path(path)}: {describe_error(err.errors()[0])}") from None
    accelerate = paths.PROJECT_ROOT / settings.accelerate_config
    config = read_yaml(accelerate)
    processes = config.get("num_processes")
    if processes != settings.num_gpus:
        raise ParamsError(f"{display_path(path)}: num_gpus: {settings.num_gpus} differs from "
                          f"num_processes {processes!r} in {settings.accelerate_config}")
    return settings


def grpo_config_overrides(hw: HardwareSettings) -> dict:
    """``trl.GRPOConfig`` keyword arguments that move a Dr.GRPO run onto the GPUs."""
    return {"bf16": hw.dtype == "bfloat16", "fp16": hw.dtype == "float16", "use_cpu": False,
            "activation_checkpointing": hw.gradient_checkpointing,
            "per_device_train_batch_size": hw.per_device_batch_size,
            "use_vllm": hw.use_vllm, "vllm_mode": hw.vllm_mode,
            "vllm_gpu_memory_utilization": hw.vllm_gpu_memory_utilization,
            "vllm_tensor_parallel_size": hw.vllm_tensor_parallel_size}


def grpo_overrides_for(profile: str) -> dict:
    """A profile's :func:`grpo_config_overrides`: none for a CPU profile (one without
    ``configs/<profile>/hardware.yaml``)."""
    if not hardware_path(profile).is_file():
        return {}
    return grpo_config_overrides(load_hardware(profile))


def lora_config(hw: HardwareSettings):
    """The ``peft.LoraConfig`` of the hardware settings; ``None`` for full fine-tuning."""
    if hw.finetune != "lora":
        return None
    from peft import LoraConfig

    return LoraConfig(r=hw.lora_rank, lora_alpha=hw.lora_alpha, lora_dropout=hw.lora_dropout,
                      target_modules=list(hw.lora_target_modules), task_type="CAUSAL_LM")
