"""A ladder of small Llama-style policies, trained from scratch, and how to build them.

Sizes span ~0.15M to ~8M parameters with a 4096-id vocabulary (all parameters counted,
embeddings included; input and output embeddings are tied, as in the small Qwen2.5 and
SmolLM2 models). Their depth and width grow together, roughly as in the Qwen2.5 family the
paper's capacity study uses (0.5B to 32B, a 64x span), at CPU scale.

``build_policy`` also accepts any Hugging Face causal-LM path or id available offline
(the paper profile's Qwen2.5 checkpoints), so the same notebooks run on real models.

The training recipe of each size (learning rates, SFT epochs) is a parameter of the
capacity study (``capacity_*`` in :class:`newsstudy.schemas.ScalingParams`), not part of
the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedModel

from newsstudy.policy import pretrained

MAX_POSITIONS = 1024


@dataclass(frozen=True)
class ModelSize:
    """One rung's architecture.

    ``hidden``: model width; ``layers``: decoder blocks; ``heads``/``kv_heads``: query and
    key-value attention heads (grouped-query attention when fewer kv heads);
    ``intermediate``: SwiGLU width.
    """

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int

    def config(self, vocab_size: int, pad_token_id: int | None = None,
               bos_token_id: int | None = None, eos_token_id: int | None = None) -> LlamaConfig:
        """The ``LlamaConfig`` of this size for a vocabulary of ``vocab_size`` ids."""
        return LlamaConfig(
            vocab_size=vocab_size, hidden_size=self.hidden, intermediate_size=self.intermediate,
            num_hidden_layers=self.layers, num_attention_heads=self.heads,
            num_key_value_heads=self.kv_heads, max_position_embeddings=MAX_POSITIONS,
            tie_word_embeddings=True, pad_token_id=pad_token_id, bos_token_id=bos_token_id,
            eos_token_id=eos_token_id)


LADDER: dict[str, ModelSize] = {
    "xs": ModelSize(hidden=32, layers=1, heads=2, kv_heads=2, intermediate=96),
    "s": ModelSize(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=176),
    "m": ModelSize(hidden=128, layers=3, heads=4, kv_heads=2, intermediate=344),
    "l": ModelSize(hidden=192, layers=4, heads=6, kv_heads=2, intermediate=512),
    "xl": ModelSize(hidden=256, layers=5, heads=8, kv_heads=4, intermediate=688),
    "xxl": ModelSize(hidden=320, layers=6, heads=8, kv_heads=4, intermediate=864),
}


def parameter_count(name: str, vocab_size: int) -> int:
    """All parameters of a ladder size (tied embeddings counted once), via the meta device."""
    size = ladder_size(name)
    with torch.device("meta"):
        model = LlamaForCausalLM(size.config(vocab_size))
    return sum(p.numel() for p in model.parameters())


def ladder_table(vocab_size: int) -> list[dict]:
    """One row per size: name, architecture and parameter count."""
    return [{"name": name, "params": parameter_count(name, vocab_size), **vars(size)}
            for name, size in LADDER.items()]


def ladder_size(name: str) -> ModelSize:
    """The rung named ``name``; ``ValueError`` naming the sizes if there is none."""
    if name not in LADDER:
        raise ValueError(f"unknown ladder size {name!r}; sizes are {', '.join(LADDER)}")
    return LADDER[name]


def build_policy(name_or_path: str, tokenizer, seed: int) -> PreTrainedModel:
    """A fresh ladder model (random init after ``torch.manual_seed(seed)``), or a local HF model.

    A name in :data:`LADDER` builds ``LlamaForCausalLM`` with the tokenizer's vocabulary
    and pad/bos/eos ids. Anything else is a Hugging Face path or id, loaded with
    ``local_files_only=True`` from a local folder or the hub cache (nothing is downloaded);
    if there is none, ``ValueError`` names the argument and the ladder sizes. A registry
    name of :mod:`newsstudy.policy.pretrained` (e.g. ``"smollm2-135m-instruct"``) loads
    that pretrained model; pair it with the tokenizer ``pretrained.load_pretrained`` returns.
    """
    if pretrained.is_registered(name_or_path):
        torch.manual_seed(seed)
        model, own = pretrained.load_pretrained(name_or_path)
        if tokenizer is not None and len(tokenizer) != len(own):
            raise ValueError(
                f"{name_or_path!r} has its own tokenizer ({len(own)} ids); the one passed has "
                f"{len(tokenizer)}: use pretrained.load_pretrained({name_or_path!r})[1]")
        return model
    if name_or_path in LADDER:
        config = LADDER[name_or_path].config(
            len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id,
            tokenizer.eos_token_id)
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.bos_token_id = tokenizer.bos_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        return model
    try:
        folder = pretrained.local_model_folder(name_or_path)
    except ValueError as error:
        raise ValueError(f"{error} (nor a ladder size: {', '.join(LADDER)})") from error
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)


def check_model_name(value: str, in_cache: bool = False) -> str:
    """``value`` if it names a model, else ``ValueError`` saying what would.

    A ladder size, a registry name of :mod:`newsstudy.policy.pretrained`, a local folder
    holding a Hugging Face ``config.json``, or a Hugging Face id (``org/name``); with
    ``in_cache`` the id must be in the local cache (as ``newsstudy run`` checks before a
    kernel starts; a profile can name GPU checkpoints this machine lacks). Reads no weights.
    """
    known = (f"a ladder size ({', '.join(LADDER)}), a pretrained model "
             f"({', '.join(pretrained.PRETRAINED)}), or a local Hugging Face model folder")
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"must be {known}; got a blank or space-padded name")
    if value in LADDER or pretrained.is_registered(value):
        return value
    path = Path(value).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"folder {value!r} holds no config.json: it is not a Hugging "
                             f"Face model folder (must be {known})")
        return value
    if path.exists() or value.startswith((".", "/", "~")) or value.count("/") != 1:
        raise ValueError(f"unknown model {value!r}: no such folder (must be {known})")
    if not in_cache:
        return value
    try:
        pretrained.local_model_folder(value)
    except ValueError:
        raise ValueError(f"{value!r} is not in the local Hugging Face cache and nothing is "
                         f"downloaded (must be {known})") from None
    return value
