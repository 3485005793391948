"""The paper profile's GPU plan: which Qwen2.5 model each stage trains, and what it needs.

The ``paper`` profile points the notebooks at the paper's models (Qwen2.5-Instruct, 0.5B
to 32B, bf16). Its notebook parameters live in ``params/paper/*.yaml`` (validated by the
notebook schemas); the GPU settings no notebook parameter covers (dtype, LoRA or full
fine-tuning, vLLM, GPUs, the accelerate config) live in ``configs/<profile>/hardware.yaml``
and are validated here by :class:`HardwareSettings`.

``plan(profile)`` reads and validates both, and estimates per-GPU memory for every stage
without loading a weight: parameter counts come from the models' published
architectures (:data:`QWEN25`). ``dry_run(profile)`` prints the plan::

    python -m newsstudy.run.gpu_plan --profile paper

Memory model (per GPU, GiB = 2**30 bytes; an estimate to choose GPUs, not a guarantee):

- **full fine-tuning**, mixed precision with AdamW: bf16 weights (2 bytes/param) and
  gradients (2), fp32 master weights and two Adam moments (12): 16 bytes/param (the ZeRO
  paper's accounting, arXiv:1910.02054). Sharded over the GPUs by FSDP / ZeRO-3,
  replicated by plain data parallelism. A frozen reference model (``beta > 0``) adds
  2 bytes/param.
- **LoRA**: the frozen bf16 base (2 bytes/param) plus 16 bytes per adapter parameter;
  the reference policy is the base with adapters off (no copy).
- **rollouts**: the KV cache of one generation batch, ``2 (K, V) x layers x kv_heads x
  head_dim x 2 bytes`` per token, over ``users_per_step x G / num_gpus`` sequences of
  prompt + completion tokens. With vLLM colocated, vLLM holds its own bf16 copy of the
  weights (split over ``vllm_tensor_parallel_size`` GPUs) and that KV cache inside its
  reserved share (``vllm_gpu_memory_utilization``) of each GPU.
- **activations** of one micro-batch: with gradient checkpointing one hidden state per
  layer and token (bf16), plus fp32 logits over the vocabulary (the loss needs them);
  without it, about 16x the hidden states. A rough term: real use depends on kernels.

Prompt tokens are estimated as characters / 4 (system text + ``max_prompt_chars``).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from newsstudy import paths
from newsstudy.params import ParamsError, display_path, load_params
from newsstudy.policy.hardware import (  # noqa: F401  (re-exported: the plan's inputs)
    LORA_MODULES,
    QWEN25,
    HardwareSettings,
    KnownModel,
    ModelFacts,
    grpo_config_overrides,
    grpo_overrides_for,
    hardware_path,
    load_hardware,
    lora_config,
    read_yaml,
)

GIB = 2**30
CHARS_PER_TOKEN = 4  # English text, Qwen2.5's tokenizer: about 4 characters per token
PROMPT_OVERHEAD_TOKENS = 32  # chat-template markers and the signals header/footer


def sharding(accelerate_config: dict) -> str:
    """How an accelerate config spreads model state: 'sharded' (FSDP, ZeRO-3) or 'replicated'."""
    kind = accelerate_config.get("distributed_type")
    if kind == "FSDP":
        return "sharded"
    if kind == "DEEPSPEED" and accelerate_config.get("deepspeed_config", {}).get(
            "zero_stage") == 3:
        return "sharded"
    return "replicated"


def prompt_tokens(max_prompt_chars: int) -> int:
    """Estimated prompt length in tokens: system text and signals (characters / 4)."""
    from newsstudy.policy.prompts import SYSTEM_TEXT

    return math.ceil((len(SYSTEM_TEXT) + max_prompt_chars) / CHARS_PER_TOKEN) + (
        PROMPT_OVERHEAD_TOKENS)


def training_memory(model: str, hw: HardwareSettings, spread: str, sequences: int,
                    seq_tokens: int, beta: float) -> dict:
    """Per-GPU GiB of one training stage (see the module doc), with ``fits``."""
    facts = QWEN25[model]
    params = facts.parameters()
    share = hw.num_gpus if spread == "sharded" else 1
    width = hw.dtype_bytes()
    if hw.finetune == "full":
        trained = params
        weights, grads = width * params, width * params
        optimizer = 12 * params
        reference = width * params if beta > 0 else 0
        weights, grads, optimizer, reference = (x / share for x in
                                                (weights, grads, optimizer, reference))
    else:
        trained = facts.lora_parameters(hw.lora_rank, hw.lora_target_modules)
        weights = width * params / share + width * trained
        grads, optimizer, reference = width * trained, 12 * trained, 0
    per_gpu_sequences = math.ceil(sequences / hw.num_gpus)
    kv = facts.kv_bytes_per_token() * per_gpu_sequences * seq_tokens
    micro = min(hw.per_device_batch_size, per_gpu_sequences)
    hidden_states = facts.layers * facts.hidden * 2 * seq_tokens * micro
    activations = hidden_states * (1 if hw.gradient_checkpointing else 16) + (
        4 * facts.vocab * seq_tokens * micro)
    vllm = 0.0
    colocated = hw.use_vllm and hw.vllm_mode == "colocate"
    if colocated:
        vllm = hw.vllm_gpu_memory_utilization * hw.gpu_memory_gib * GIB
        tp = vllm_tensor_parallel(model, hw)
        vllm_weights = width * params / tp
        kv_train = 0
    else:
        kv_train = 0 if hw.use_vllm else kv
    parts = {"weights": weights, "grads": grads, "optimizer": optimizer,
             "reference": reference, "kv_cache": kv_train, "activations": activations,
             "vllm_reserved": vllm}
    total = sum(parts.values())
    row = {k: round(v / GIB, 2) for k, v in parts.items()}
    row.update({"total": round(total / GIB, 2), "trained_params": int(trained),
                "fits": total <= hw.gpu_memory_gib * GIB, "why": ""})
    if not row["fits"]:
        row["why"] = f"total {row['total']} GiB > {hw.gpu_memory_gib} GiB per GPU"
    if colocated:
        # vLLM pages its KV cache: it needs room for the weights and some sequences, not
        # for the whole batch at once; report how many fit side by side.
        per_sequence = facts.kv_bytes_per_token() * seq_tokens / tp
        room = max(vllm - vllm_weights, 0.0)
        row.update({"vllm_tp": tp, "vllm_weights": round(vllm_weights / GIB, 2),
                    "vllm_concurrent_sequences": int(room // per_sequence)})
        if vllm_weights >= vllm:
            row["fits"] = False
            row["why"] = (f"vLLM weights {row['vllm_weights']} GiB do not fit its reserve "
                          f"of {round(vllm / GIB, 2)} GiB (tensor parallel {tp})")
    return row


def vllm_tensor_parallel(model: str, hw: HardwareSettings) -> int:
    """GPUs per vLLM engine for ``model``: the setting, or the 'auto' choice.

    'auto': the fewest of 1, 2, 4, 8 that divide ``num_gpus`` and the model's attention
    heads and leave at least half of vLLM's reserve for KV cache; the largest such if none
    does.
    """
    if isinstance(hw.vllm_tensor_parallel_size, int):
        return hw.vllm_tensor_parallel_size
    facts = QWEN25[model]
    reserve = hw.vllm_gpu_memory_utilization * hw.gpu_memory_gib * GIB
    options = [tp for tp in (1, 2, 4, 8) if hw.num_gpus % tp == 0 and facts.heads % tp == 0]
    for tp in options:
        if hw.dtype_bytes() * facts.parameters() / tp <= reserve / 2:
            return tp
    return options[-1]


def inference_memory(model: str, hw: HardwareSettings, sequences: int, seq_tokens: int) -> dict:
    """Per-GPU GiB of serving ``sequences`` at once on one GPU (bf16 weights + KV cache)."""
    facts = QWEN25[model]
    weights = hw.dtype_bytes() * facts.parameters()
    kv = facts.kv_bytes_per_token() * sequences * seq_tokens
    total = weights + kv
    return {"weights": round(weights / GIB, 2), "kv_cache": round(kv / GIB, 2),
            "total": round(total / GIB, 2), "fits": total <= hw.gpu_memory_gib * GIB}


def launch_command(hw: HardwareSettings, script: str = "<training script>") -> str:
    """The ``accelerate launch`` command line of a training stage."""
    return (f"accelerate launch --config_file {hw.accelerate_config} "
            f"--num_processes {hw.num_gpus} {script}")


def plan(profile: str = "paper") -> dict:
    """Validate a GPU profile and estimate what each stage needs; no weights are loaded.

    Reads ``params/<profile>/03_grpo.yaml`` (and every other notebook's params file, to
    validate them) and ``configs/<profile>/hardware.yaml``. Returns a JSON-ready dict:
    ``models`` (parameter counts), ``stages`` (per-GPU memory, one row per stage and
    model), ``launch`` (the accelerate command and config), ``warnings``.
    """
    from newsstudy.params import params_path, profile_notebooks, recipe_path

    hw = load_hardware(profile)
    rank = hw.lora_rank if hw.finetune == "lora" else 0
    loaded = {notebook: load_params(notebook, profile) for notebook in profile_notebooks(profile)}
    for notebook, values in loaded.items():
        if getattr(values, "lora_rank", rank) != rank:
            raise ParamsError(
                f"{params_path(notebook, profile)}: lora_rank {values.lora_rank} disagrees "
                f"with {hardware_path(profile)} (finetune {hw.finetune}, so lora_rank "
                f"must be {rank})")
    grpo = loaded["03_grpo"] if "03_grpo" in loaded else load_params("03_grpo", profile)
    accelerate = read_yaml(paths.PROJECT_ROOT / hw.accelerate_config)
    spread = sharding(accelerate)
    teacher = grpo.model  # named once, by the recipe (params/<profile>/teacher.yaml)
    if teacher not in QWEN25:
        raise ParamsError(
            f"{display_path(recipe_path(profile))}: model {teacher!r} has no shapes in the GPU "
            f"plan (known: {', '.join(QWEN25)})")
    warnings = []
    seq_tokens = prompt_tokens(grpo.max_prompt_chars) + grpo.max_completion_length
    sequences = grpo.users_per_step * grpo.num_generations
    models = {m: {"parameters": QWEN25[m].parameters(),
                  "billions": round(QWEN25[m].parameters() / 1e9, 2),
                  "reported_billions": QWEN25[m].reported,
                  "lora_parameters": QWEN25[m].lora_parameters(hw.lora_rank,
                                                               hw.lora_target_modules)}
              for m in dict.fromkeys([teacher, hw.student, *hw.scaling])}
    stages = []

    def train(stage: str, model: str, finetune: str | None = None) -> None:
        settings = hw if finetune is None else hw.model_copy(update={"finetune": finetune})
        memory = training_memory(model, settings, spread, sequences, seq_tokens, grpo.beta)
        stages.append({"stage": stage, "model": model, "finetune": settings.finetune,
                       **memory})

    train("03 Dr.GRPO teacher", teacher)
    for model in hw.scaling:
        train("04 scaling: Dr.GRPO", model)
    train("05 on-policy distillation: student", hw.student)
    teacher_inference = inference_memory(teacher, hw, sequences, seq_tokens)
    share = hw.num_gpus if spread == "sharded" else 1
    stages.append({"stage": "05 on-policy distillation: teacher logits", "model": teacher,
                   "finetune": "frozen", "weights": round(teacher_inference["weights"] / share, 2),
                   "total": round(teacher_inference["weights"] / share, 2),
                   "fits": teacher_inference["weights"] / share <= hw.gpu_memory_gib,
                   "why": ""})
    stages.append({"stage": "serving: student, one GPU", "model": hw.student,
                   "finetune": "frozen", **inference_memory(hw.student, hw, 256, seq_tokens)})
    for row in stages:
        if not row["fits"]:
            why = row.get("why") or f"{row['total']} GiB > {hw.gpu_memory_gib} GiB per GPU"
            warnings.append(f"{row['stage']} ({row['model']}, {row['finetune']}): {why}")
    return {
        "profile": profile,
        "hardware": hw.model_dump(),
        "sharding": spread,
        "grpo": {"steps": grpo.grpo_steps, "users_per_step": grpo.users_per_step,
                 "num_generations": grpo.num_generations, "sequences_per_step": sequences,
                 "prompt_tokens": prompt_tokens(grpo.max_prompt_chars),
                 "completion_tokens": grpo.max_completion_length,
                 "learning_rate": grpo.grpo_learning_rate, "beta": grpo.beta,
                 "n_seeds": grpo.n_seeds, "sft_epochs": grpo.sft_epochs},
        "models": models,
        "stages": stages,
        "launch": {"accelerate_config": hw.accelerate_config,
                   "command": launch_command(hw),
                   "grpo_config_overrides": grpo_config_overrides(hw)},
        "warnings": warnings,
    }


def format_plan(result: dict) -> str:
    """A plan as plain text: models, GRPO settings, per-stage memory, launch, warnings."""
    import pandas as pd

    hw = result["hardware"]
    lines = [f"profile {result['profile']}: {hw['num_gpus']} x {hw['gpu_memory_gib']} GiB GPUs, "
             f"{hw['dtype']}, {hw['finetune']} fine-tuning"
             + (f" (rank {hw['lora_rank']})" if hw["finetune"] == "lora" else "")
             + f", state {result['sharding']} ({hw['accelerate_config']}), "
             + (f"vLLM {hw['vllm_mode']}" if hw["use_vllm"] else "HF generate"), ""]
    models = pd.DataFrame([{"model": m, "parameters (B)": f["billions"],
                            "model card (B)": f["reported_billions"],
                            "LoRA parameters (M)": round(f["lora_parameters"] / 1e6, 1)}
                           for m, f in result["models"].items()])
    lines += ["models (parameters from their published shapes):",
              models.to_string(index=False), ""]
    g = result["grpo"]
    lines += [f"Dr.GRPO: {g['steps']} steps x {g['users_per_step']} users x G="
              f"{g['num_generations']} = {g['sequences_per_step']} rollouts/step of ~"
              f"{g['prompt_tokens']} + {g['completion_tokens']} tokens; lr {g['learning_rate']}, "
              f"beta {g['beta']}, {g['n_seeds']} seeds, SFT epochs {g['sft_epochs']}", ""]
    columns = ["stage", "model", "finetune", "weights", "grads", "optimizer", "reference",
               "kv_cache", "activations", "vllm_reserved", "total", "fits", "vllm_tp",
               "vllm_concurrent_sequences"]
    frame = pd.DataFrame(result["stages"]).reindex(columns=columns).astype(object)
    for column in ("vllm_tp", "vllm_concurrent_sequences"):
        frame[column] = pd.Series([v if pd.isna(v) else int(v) for v in frame[column]],
                                  index=frame.index, dtype=object)
    frame = frame.rename(columns={"vllm_concurrent_sequences": "vllm_seqs"})
    frame["model"] = frame["model"].str.replace("Qwen/Qwen2.5-", "").str.replace(
        "-Instruct", "")
    lines += ["per-GPU memory, GiB (estimate; no weights loaded):",
              frame.fillna("").to_string(index=False), ""]
    lines += [f"launch: {result['launch']['command']}"]
    lines += [f"warning: {w}" for w in result["warnings"]] or ["no warnings"]
    return "\n".join(lines)


def dry_run(profile: str = "paper") -> dict:
    """Validate the profile, print its plan, and return it (no weights are loaded)."""
    result = plan(profile)
    print(format_plan(result))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m newsstudy.run.gpu_plan",
                                     description="Validate a GPU profile and print its plan.")
    parser.add_argument("--profile", default="paper")
    args = parser.parse_args(argv)
    try:
        dry_run(args.profile)
    except ParamsError as err:
        raise SystemExit(f"newsstudy: error: {err}") from None


if __name__ == "__main__":
    main()
