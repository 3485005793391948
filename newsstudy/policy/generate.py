"""Batched sampling of completions from a causal LM (CPU-friendly, deterministic).

Prompts are tokenised without added tokens (they carry their own ``<bos>``), sorted by
length so a batch wastes little padding, left-padded, and passed to ``model.generate``.
Only the new tokens are decoded, with ``skip_special_tokens=True``: pad/bos/eos vanish,
the format markers (ordinary added tokens) stay. Given the same inputs and ``seed``, the
output is the same.

**Each prompt read once.** With several samples per prompt, a batch holds each prompt
several times, and a prompt (~270 tokens) is an order of magnitude longer than a list
(~20). The decoder therefore reads each distinct prompt of a batch once, all but its
last token, and the keys and values are gathered to one row per sample
(:func:`shared_prompt_cache`, within :func:`prompts_read_once`, which also serves
TRL's GRPO sampling); ``generate`` then reads only the last prompt token and samples from
there. The logits equal those of reading every row whole to float
precision, and the random stream is the same (one draw per row and step), so samples
agree but where a float rounding tips a draw (``tests/test_policy.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from tqdm import tqdm

from newsstudy.policy import decoding
from newsstudy.policy.prompts import expand_pointers
from newsstudy.policy.sft import decoder_and_head
from newsstudy.progress import Progress

LONG_GENERATION = 1000
"""Lists at which a call without a bar reports its progress on the terminal."""


def sample_completions(model, tokenizer, prompts: Sequence[str], n_samples: int = 1,
                       temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = 64,
                       batch_size: int = 64, seed: int = 0, greedy: bool = False,
                       progress: bool = True, return_counts: bool = False,
                       guard: bool = True, expand: bool = True):
    """``n_samples`` completions per prompt: ``out[i][j]`` is sample ``j`` of prompt ``i``.

    ``greedy=True`` decodes greedily (temperature and top_p are ignored). ``guard`` applies
    the policy's :class:`~newsstudy.policy.decoding.DuplicateQueryGuard`; ``expand``
    replaces pointer tokens by the prompt lines they point at
    (:func:`~newsstudy.policy.prompts.expand_pointers`; ``False`` keeps the raw text, e.g.
    to train a student on the teacher's own tokens). Generation
    stops at the tokenizer's eos or after ``max_new_tokens``. With ``return_counts=True``
    the result is ``(out, counts)``, ``counts[i][j]`` the number of tokens generated for
    that sample (eos included, padding after it not).
    """
    if n_samples < 1 or batch_size < 1 or max_new_tokens < 1:
        raise ValueError("n_samples, batch_size and max_new_tokens must be >= 1")
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer needs a pad token for batched generation")
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]  # once
    lengths = [len(ids) for ids in prompt_ids]
    jobs = sorted(((i, j) for i in range(len(prompts)) for j in range(n_samples)),
                  key=lambda job: (-lengths[job[0]], job))
    out: list[list[str]] = [[""] * n_samples for _ in prompts]
    counts: list[list[int]] = [[0] * n_samples for _ in prompts]
    sampling = {} if greedy else {"temperature": temperature, "top_p": top_p, "top_k": None}
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        bar = tqdm(total=len(jobs), desc="generating", unit="sample", disable=not progress)
        # without a bar, a long call reports itself on the terminal at each quarter
        lines = Progress("generating", len(jobs), "lists", every=0.25) if (
            not progress and len(jobs) >= LONG_GENERATION) else None
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start:start + batch_size]
            encoded = tokenizer.pad({"input_ids": [prompt_ids[i] for i, _ in batch]},
                                    padding=True, return_tensors="pt").to(model.device)
            with torch.inference_mode(), decoding.guarded(model, tokenizer, guard), \
                    prompts_read_once(model):
                generated = model.generate(
                    **encoded, do_sample=not greedy, max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                    **sampling)
            new = generated[:, encoded["input_ids"].shape[1]:]
            lengths_new = _lengths_to_eos(new, tokenizer.eos_token_id, tokenizer.pad_token_id)
            texts_new = tokenizer.batch_decode(new, skip_special_tokens=True)
            for (i, j), text, n in zip(batch, texts_new, lengths_new, strict=True):
                out[i][j] = expand_pointers(text, prompts[i]) if expand else text
                counts[i][j] = n
            bar.update(len(batch))
            if lines is not None:
                lines.update(start + len(batch))
        bar.close()
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return (out, counts) if return_counts else out


def prompts_read_once(model):
    """Within the block, ``model.generate`` reads each distinct row of a batch's prompts
    once (:func:`shared_prompt_cache`): rows equal in ids and attention mask share their
    keys and values. A call that brings its own ``cache`` is left as it is."""
    def wrap(original):
        def generate(*args, **kwargs):
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            mask = kwargs.get("attention_mask")
            if input_ids is not None and mask is not None and kwargs.get("cache") is None \
                    and input_ids.ndim == 2:
                kwargs.update(shared_prompt_cache(model, input_ids, mask))
            return original(*args, **kwargs)

        return generate

    return decoding.generate_wrapped(model, wrap, "_prompts_read_once")


def distinct_rows(input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """``(ids, mask, owner)``: the batch's distinct rows (equal in ids and mask) and, for
    each row, the index of its distinct row."""
    rows = torch.cat([input_ids, attention_mask.to(input_ids.dtype)], dim=1)
    distinct, owner = torch.unique(rows, dim=0, return_inverse=True)
    width = input_ids.shape[1]
    return distinct[:, :width], distinct[:, width:], owner


def shared_prompt_cache(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict:
    """``{"cache": ...}`` for ``model.generate`` when rows of a left-padded batch repeat a
    prompt; ``{}`` when none repeats, the batch is one column wide, or the model has no
    separate decoder (:func:`newsstudy.policy.sft.decoder_and_head`).

    The decoder reads each distinct row once, all but the last column, at the positions
    ``generate`` gives left-padded rows (the attention mask's running count), and the keys
    and values are gathered to every row, so ``generate`` reads only the last column.
    """
    split = decoder_and_head(model)
    if split is None or input_ids.shape[1] < 2:
        return {}
    ids, mask, owner = distinct_rows(input_ids[:, :-1], attention_mask[:, :-1])
    if len(ids) == len(input_ids):
        return {}
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    cache = split[0](input_ids=ids, attention_mask=mask, position_ids=positions,
                     use_cache=True).cache
    cache.reorder_cache(owner)
    return {"cache": cache}


def _lengths_to_eos(new: torch.Tensor, eos_id: int | None, pad_id: int) -> list[int]:
    """Tokens per row up to and including the first eos (else non-pad tokens)."""
    lengths = []
    for row in new.tolist():
        if eos_id is not None and eos_id in row:
            lengths.append(row.index(eos_id) + 1)
        else:
            lengths.append(sum(token != pad_id for token in row))
    return lengths


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op torch threads, then restore the old number.

    For models of a few million parameters one thread is about as fast as two, and far
    faster when another process is busy on the other core (OpenMP threads then wait on
    each other: 50-100x slower generation was measured on a shared 2-core machine).
    """
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def count_generated_tokens(tokenizer, completions: Sequence[Sequence[str]] | Sequence[str]) -> int:
    """Tokens in decoded completions (nested or flat), re-tokenised; eos not counted.

    An estimate for completions from anywhere (text that decoded to U+FFFD re-tokenises
    longer); for exact throughput use ``sample_completions(..., return_counts=True)``.
    """
    flat = [c for group in completions for c in ([group] if isinstance(group, str) else group)]
    if not flat:
        return 0
    return sum(len(ids) for ids in tokenizer(flat, add_special_tokens=False)["input_ids"])
