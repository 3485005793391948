"""A byte-level BPE tokenizer trained on the world's text (no download).

Byte-level pre-tokenisation and decoding mean any unicode string round-trips; nothing
is lower-cased. Two kinds of extra tokens:

- ``<pad>``, ``<bos>``, ``<eos>``: special tokens; ``decode(..., skip_special_tokens=True)``
  drops them.
- the format markers ``<think>``, ``</think>``, ``<queries>``, ``</queries>``: added
  tokens that are *not* special, so each is always one id and decoding keeps them
  (the reward parser needs them in the generated text).

The wrapper pads on the left (for batched generation) and adds no tokens by itself:
prompts carry their own ``<bos>`` (see :mod:`newsstudy.policy.prompts`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from newsstudy.output_format import TAGS

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS)
FORMAT_TOKENS: tuple[str, ...] = TAGS


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2
                    ) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer of at most ``vocab_size`` ids on ``texts``.

    The vocabulary includes the 3 special tokens and the 4 format markers; a small corpus
    may yield fewer ids than ``vocab_size`` (``len(tokenizer)`` is the true size).
    """
    n_extra = len(FORMAT_TOKENS)
    if vocab_size < 256 + len(SPECIAL_TOKENS) + n_extra:
        raise ValueError(f"vocab_size must cover the 256 bytes and 7 extra tokens, got {vocab_size}")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - n_extra, min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator((t for t in texts if isinstance(t, str) and t), trainer=trainer)
    core.add_tokens([AddedToken(t, normalized=False, special=False, single_word=False)
                     for t in FORMAT_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS,
        padding_side="left", model_max_length=512)


def world_corpus_texts(world, n_queries: int = 5) -> list[str]:
    """The text the tokenizer is trained on: what the policy reads and writes.

    Cleaned event texts, article titles, topic keywords, every user's prompt and surface
    demonstration. No latent labels.
    """
    from newsstudy.policy.prompts import build_prompts, surface_context, surface_demonstrations

    users = world.users["user_id"].to_numpy()
    ctx = surface_context(world, n_queries=n_queries)
    return [
        *world.clean_events()["text"].tolist(),
        *world.articles["title"].tolist(),
        *(" ".join(words) for words in world.topic_keywords),
        *build_prompts(world, users).values(),
        *surface_demonstrations(ctx, users).values(),
    ]


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, folder: str | os.PathLike) -> Path:
    """Save with ``save_pretrained``; return the folder."""
    tokenizer.save_pretrained(str(folder))
    return Path(folder)


def load_tokenizer(folder: str | os.PathLike) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved by :func:`save_tokenizer` (local files only)."""
    return PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
