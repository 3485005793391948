"""The policy's decoding, shared by GRPO rollouts and serving, and its duplicate-query guard.

One decoding serves every purpose (training rollouts, evaluation, best-of-N, the A/B
treatment): nucleus sampling at ``temperature`` and ``top_p``, at most
``max_completion_length`` new tokens, seeded, with the :class:`DuplicateQueryGuard`
applied to the logits. Training on samples and serving greedy lists would train one
policy and serve another.

The guard belongs to the policy: :func:`guarded` attaches it to a model's ``generate`` so
every caller (``newsstudy.policy.generate``, TRL's ``GRPOTrainer``) decodes with it. Inside
the ``<queries>`` block it forbids

* a pointer token (``<sN>``, :data:`~newsstudy.policy.prompts.POINTER_TOKENS`) already
  written in the completion: one signal line is copied at most once;
* closing a query (``|`` or ``</queries>``) while it is empty or equal, token for token,
  to an earlier query of the list;
* ending the completion (eos) while the block is open: a list is closed or not served;
* closing the block with fewer than :data:`~newsstudy.output_format.MIN_QUERIES` queries,
  or opening a query past :data:`~newsstudy.output_format.MAX_QUERIES`;

and, when ``generate`` is given its token budget, on the last token of the budget it
allows only ``</queries>`` inside an open block that may be closed there (a list cut by
the budget is closed instead of lost). These are the output format's grammar, applied
while decoding (constrained decoding); what the model chooses within it is its own.
:data:`GUARD_VERSION` names these rules in every checkpoint's cache key.

So a guarded list never repeats a query through the tokens the guard sees (two different
token sequences can still normalise to the same text; the parser then drops the repeat).
It acts on tokenizers where ``|`` and the tags are single ids (the ladder's); for other
tokenizers only the tokens it can identify are guarded. In GRPO the policy gradient uses
the model's own log-probabilities of the guarded samples (as TRL does for any logits
processor), a small bias the guard trades for never spending rollouts on repeats.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from newsstudy.output_format import MAX_QUERIES, MIN_QUERIES, QUERIES_CLOSE, QUERIES_OPEN, SEPARATOR

GUARD_VERSION = 2  # 1: pointers and repeated queries; 2: + eos, list length and budget close


def guard_version(enabled: bool) -> int:
    """The guard rules a decoding applies, for cache keys: 0 when the guard is off."""
    return GUARD_VERSION if enabled else 0


@dataclass(frozen=True)
class Decoding:
    """How the policy writes a list, in training and in serving alike."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    duplicate_guard: bool = True

    def as_dict(self) -> dict:
        """Plain dict (for cache keys and results), with the guard's rules version."""
        return {**asdict(self), "guard_version": guard_version(self.duplicate_guard)}


def _single_id(tokenizer, token: str) -> int | None:
    ids = tokenizer.convert_tokens_to_ids([token])
    unk = getattr(tokenizer, "unk_token_id", None)
    if not ids or ids[0] is None or ids[0] == unk:
        return None
    return int(ids[0])


class DuplicateQueryGuard(LogitsProcessor):
    """Logits processor applying the output format's grammar inside the ``<queries>`` block.

    ``prompt_length``: tokens of the (left-padded) prompt batch; only generated tokens are
    read. ``max_new_tokens``: the generation budget, if known (for the budget close).
    See the module doc for the rules.
    """

    def __init__(self, tokenizer, prompt_length: int, max_new_tokens: int | None = None):
        from newsstudy.policy.prompts import POINTER_TOKENS

        self.prompt_length = int(prompt_length)
        self.max_new_tokens = None if max_new_tokens is None else int(max_new_tokens)
        self.open_id = _single_id(tokenizer, QUERIES_OPEN)
        self.end_id = _single_id(tokenizer, QUERIES_CLOSE)
        self.separator_id = _single_id(tokenizer, SEPARATOR)
        self.close_ids = [i for i in (self.end_id, self.separator_id) if i is not None]
        eos = getattr(tokenizer, "eos_token_id", None)
        self.eos_id = None if eos is None else int(eos)
        pointers = [_single_id(tokenizer, t) for t in POINTER_TOKENS]
        self.pointer_ids = torch.tensor([i for i in pointers if i is not None], dtype=torch.long)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_length:]
        if generated.shape[1] == 0 or self.open_id is None:
            return scores
        last_step = (self.max_new_tokens is not None
                     and generated.shape[1] == self.max_new_tokens - 1)
        blocked = torch.zeros_like(scores, dtype=torch.bool)
        if len(self.pointer_ids):
            pointers = self.pointer_ids.to(scores.device)
            used = (generated.unsqueeze(-1) == pointers).any(dim=1)  # batch x pointers
            opened = (generated == self.open_id).any(dim=1, keepdim=True)  # inside <queries>
            blocked[:, pointers] = used & opened
        forced = []
        for row, tokens in enumerate(generated.tolist()):
            if self.open_id not in tokens:
                continue
            body = tokens[len(tokens) - tokens[::-1].index(self.open_id):]
            if self.end_id in body:  # the last block is closed: nothing more to guard
                continue
            if self.eos_id is not None and self.eos_id in body:  # finished rows (padding)
                continue
            queries, current = [], []
            for token in body:
                if token == self.separator_id:
                    queries.append(tuple(current))
                    current = []
                else:
                    current.append(token)
            if not current or tuple(current) in queries:
                blocked[row, self.close_ids] = True
            elif self.separator_id is not None:  # queries can be counted
                if len(queries) + 1 < MIN_QUERIES and self.end_id is not None:
                    blocked[row, self.end_id] = True
                if len(queries) + 1 >= MAX_QUERIES:
                    blocked[row, self.separator_id] = True
            if last_step and self.end_id is not None and not blocked[row, self.end_id]:
                forced.append(row)
            if self.eos_id is not None:
                blocked[row, self.eos_id] = True
        scores = scores.masked_fill(blocked, float("-inf"))
        for row in forced:  # the last token of the budget: only </queries>
            scores[row] = float("-inf")
            scores[row, self.end_id] = 0.0
        return scores


def _budget(kwargs) -> int | None:
    if kwargs.get("max_new_tokens") is not None:
        return int(kwargs["max_new_tokens"])
    config = kwargs.get("generation_config")
    value = getattr(config, "max_new_tokens", None)
    return None if value is None else int(value)


def _guarded_generate(original, tokenizer, *args, **kwargs):
    input_ids = kwargs.get("input_ids", args[0] if args else None)
    if input_ids is not None:
        guard = DuplicateQueryGuard(tokenizer, input_ids.shape[1], _budget(kwargs))
        processors = LogitsProcessorList(kwargs.pop("logits_processor", None) or [])
        processors.append(guard)
        kwargs["logits_processor"] = processors
    return original(*args, **kwargs)


@contextlib.contextmanager
def guarded(model, tokenizer, enabled: bool = True) -> Iterator[object]:
    """Within the block, ``model.generate`` applies the :class:`DuplicateQueryGuard`."""
    if not enabled or getattr(model.generate, "_duplicate_guard", False):
        yield model
        return
    original = model.generate
    wrapper = functools.partial(_guarded_generate, original, tokenizer)
    wrapper._duplicate_guard = True
    model.generate = wrapper
    try:
        yield model
    finally:
        del model.generate  # the instance attribute; the class method shows through again
