"""Tokenizers trained on the world's text (no download): word-level (default) or BPE.

``kind="word"`` (what the ladder policies use): NFKC, lower-cased, split into words and
single punctuation marks, one id per word of the ``vocab_size`` most frequent ones, the
rest ``<unk>``; decoding joins tokens with spaces (``"trump 's order"``). A policy that
copies or recombines the words of its signals then does it one id per word, which a
small model trained from scratch learns far more easily than spelling words from
sub-word pieces (on the default world, the SFT policy's greedy lists retrieve 2.5x better
with it; the retrieval embedders are case-insensitive, so nothing is lost downstream).

``kind="bpe"``: byte-level BPE; any unicode string round-trips, nothing is lower-cased.

Two kinds of extra tokens in both:

- ``<pad>``, ``<bos>``, ``<eos>``: special tokens; ``decode(..., skip_special_tokens=True)``
  drops them.
- the format markers ``<think>``, ``</think>``, ``<queries>``, ``</queries>`` and the
  pointer tokens ``<s1>`` ... ``<s64>`` that name the prompt's signal lines: added tokens
  that are *not* special, so each is always one id and decoding keeps them (the reward
  parser needs the tags, pointer expansion the pointers).

The wrapper pads on the left (for batched generation) and adds no tokens by itself:
prompts carry their own ``<bos>`` (see :mod:`newsstudy.policy.prompts`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)
from transformers import PreTrainedTokenizerFast

from newsstudy.output_format import TAGS
from newsstudy.policy.prompts import POINTER_TOKENS

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS)
FORMAT_TOKENS: tuple[str, ...] = TAGS + POINTER_TOKENS


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2,
                    kind: str = "bpe") -> PreTrainedTokenizerFast:
    """Train a tokenizer of at most ``vocab_size`` ids on ``texts`` (``kind``: bpe or word).

    The vocabulary includes the special tokens and the 4 format markers; a small corpus
    may yield fewer ids than ``vocab_size`` (``len(tokenizer)`` is the true size).
    """
    if kind == "word":
        return _train_word_level(texts, vocab_size, min_frequency)
    if kind != "bpe":
        raise ValueError(f"tokenizer kind must be 'word' or 'bpe', got {kind!r}")
    n_extra = len(FORMAT_TOKENS)
    if vocab_size < 256 + len(SPECIAL_TOKENS) + n_extra:
        raise ValueError(f"vocab_size must cover the 256 bytes and {3 + n_extra} extra tokens, "
                         f"got {vocab_size}")
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


def _train_word_level(texts: Iterable[str], vocab_size: int, min_frequency: int
                      ) -> PreTrainedTokenizerFast:
    extra = len(SPECIAL_TOKENS) + 1 + len(FORMAT_TOKENS)
    if vocab_size < extra + 1:
        raise ValueError(f"vocab_size must exceed the {extra} extra tokens, got {vocab_size}")
    core = Tokenizer(models.WordLevel(unk_token=UNK))
    core.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size - len(FORMAT_TOKENS), min_frequency=min_frequency,
        special_tokens=[*SPECIAL_TOKENS, UNK], show_progress=False)
    core.train_from_iterator((t for t in texts if isinstance(t, str) and t), trainer=trainer)
    core.add_tokens([AddedToken(t, normalized=False, special=False, single_word=False)
                     for t in FORMAT_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK,
        padding_side="left", model_max_length=512)


def world_corpus_texts(world, n_queries: int, max_signals: int, candidates: int) -> list[str]:
    """The text the tokenizer is trained on: what the policy reads and writes.

    Cleaned event texts, article titles, topic keywords, every user's prompt (with
    ``candidates`` interest candidates) and surface demonstration. No latent labels.
    """
    from newsstudy.policy.prompts import build_prompts, surface_context, surface_demonstrations

    users = world.users["user_id"].to_numpy()
    ctx = surface_context(world, n_queries=n_queries)
    return [
        *world.clean_events()["text"].tolist(),
        *world.articles["title"].tolist(),
        *(" ".join(words) for words in world.topic_keywords),
        *build_prompts(world, users, max_signals=max_signals, candidates=candidates).values(),
        *surface_demonstrations(ctx, users, max_signals).values(),
    ]


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, folder: str | os.PathLike) -> Path:
    """Save with ``save_pretrained`` into a temporary sibling, then rename it into place.

    A reader never sees a half-written folder: either the old one (or none) or the new one.
    Returns the folder.
    """
    import shutil
    import tempfile

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_tokenizer(folder: str | os.PathLike) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved by :func:`save_tokenizer` (local files only)."""
    return PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
