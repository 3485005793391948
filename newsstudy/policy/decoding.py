"""The policy's decoding, shared by GRPO rollouts and serving, and its duplicate-query guard.

One decoding serves every purpose (training rollouts, evaluation, best-of-N, the A/B
treatment): nucleus sampling at ``temperature`` and ``top_p``, at most
``max_completion_length`` new tokens, seeded, with the :class:`DuplicateQueryGuard`
applied to the logits. Training on samples and serving greedy lists would train one
policy and serve another.

The guard belongs to the policy: :func:`guarded` attaches it to a model's ``generate`` so
every caller (``newsstudy.policy.generate``, TRL's ``GRPOTrainer``) decodes with it. It
applies the output format's grammar (:mod:`newsstudy.output_format`) while decoding
(constrained decoding, as structured-output serving does); what the model writes within
the grammar is its own. Where the four tags are single ids (the ladder's tokenizers):

* a completion opens with ``<think>``; inside it no other tag and no eos; ``</think>`` is
  followed at once by ``<queries>``, and ``</queries>`` by eos (nothing outside the blocks);
* inside ``<queries>``: no other tag; a pointer token (``<sN>``,
  :data:`~newsstudy.policy.prompts.POINTER_TOKENS`) only if the prompt has line N and the
  list has not copied it yet; no eos while the block is open;
* closing a query (``|`` or ``</queries>``) is forbidden while it is empty or equal, token
  for token, to an earlier query of the list; closing the block with fewer than
  :data:`~newsstudy.output_format.MIN_QUERIES` queries, or opening a query past
  :data:`~newsstudy.output_format.MAX_QUERIES`, too;
* a query may not grow past :data:`~newsstudy.output_format.MAX_QUERY_WORDS` words, a
  pointer counting the words of its line (:meth:`DuplicateQueryGuard.pointer_words`);
* when ``generate`` is given its token budget: the reasoning is closed while a shortest
  list still fits, and a list whose remaining budget only just suffices to end validly is
  closed (or given the separators it still needs) instead of being cut off.

For tokenizers that split the tags (pretrained ones) only the tokens it can identify are
guarded, as before: inside an identified ``<queries>`` block, pointers, repeats, eos and the
budget close. :data:`GUARD_VERSION` names these rules in every checkpoint's cache key.

So a guarded list never repeats a query through the tokens the guard sees (two different
token sequences can still normalise to the same text; the parser then drops the repeat).
In GRPO the policy gradient uses
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

from newsstudy.output_format import (
    MAX_QUERIES,
    MAX_QUERY_WORDS,
    MIN_QUERIES,
    QUERIES_CLOSE,
    QUERIES_OPEN,
    SEPARATOR,
    THINK_CLOSE,
    THINK_OPEN,
)

GUARD_VERSION = 4  # 1: pointers and repeated queries; 2: + eos, list length and budget close;
# 3: the whole grammar (tags, nothing after the list, query words, budget reserve);
# 4: a line's words stop at the signals' header (the last interest candidate's line)


def guard_version(enabled: bool) -> int:
    """The guard rules a decoding applies, for cache keys: 0 when the guard is off."""
    return GUARD_VERSION if enabled else 0


@dataclass(frozen=True)
class Decoding:
    """How the policy writes a list, in training and in serving alike (the notebook's
    ``temperature``, ``top_p``, ``max_completion_length`` and ``duplicate_guard``: no
    defaults here)."""

    temperature: float
    top_p: float
    max_new_tokens: int
    duplicate_guard: bool

    def as_dict(self) -> dict:
        """Plain dict (for cache keys and results), with the guard's rules version."""
        return {**asdict(self), "guard_version": guard_version(self.duplicate_guard)}


def _single_id(tokenizer, token: str) -> int | None:
    ids = tokenizer.convert_tokens_to_ids([token])
    unk = getattr(tokenizer, "unk_token_id", None)
    if not ids or ids[0] is None or ids[0] == unk:
        return None
    return int(ids[0])


class _RowState:
    """What one row's generated tokens say so far, read one token at a time."""

    def __init__(self, guard: DuplicateQueryGuard):
        self.guard = guard
        self.length = 0
        self.finished = False  # eos written
        self.reasoned = False  # </think> written
        self.opened = False  # a <queries> written
        self.ended = False  # a </queries> written
        self.list_open = False  # the last <queries> is not closed yet
        self.queries: list[tuple[int, ...]] = []  # closed queries of the last block
        self.current: list[int] = []  # the query being written
        self.used: set[int] = set()  # pointers copied in the last block

    def read(self, token: int) -> None:
        """Take the next generated token."""
        g = self.guard
        self.length += 1
        if token == g.eos_id:
            self.finished = True
        elif token == g.think_close_id:
            self.reasoned = True
        elif token == g.open_id:
            self.opened = self.list_open = True
            self.queries, self.current, self.used = [], [], set()
        elif token == g.end_id:
            self.ended = True
            self.list_open = False
        elif self.list_open:
            if token == g.separator_id:
                self.queries.append(tuple(self.current))
                self.current = []
            else:
                self.current.append(token)
                if token in g.pointer_set:
                    self.used.add(token)


class DuplicateQueryGuard(LogitsProcessor):
    """Logits processor applying the output format's grammar while decoding.

    ``prompt_length``: tokens of the (left-padded) prompt batch; only generated tokens are
    read as the completion, the prompt only for the lines its pointers name.
    ``max_new_tokens``: the generation budget, if known (for the budget rules). See the
    module doc for the rules.
    """

    def __init__(self, tokenizer, prompt_length: int, max_new_tokens: int | None = None):
        from newsstudy.policy.prompts import FOOTER, HEADER, POINTER_TOKENS

        self.prompt_length = int(prompt_length)
        self.max_new_tokens = None if max_new_tokens is None else int(max_new_tokens)
        self.think_open_id = _single_id(tokenizer, THINK_OPEN)
        self.think_close_id = _single_id(tokenizer, THINK_CLOSE)
        self.open_id = _single_id(tokenizer, QUERIES_OPEN)
        self.end_id = _single_id(tokenizer, QUERIES_CLOSE)
        self.separator_id = _single_id(tokenizer, SEPARATOR)
        self.colon_id = _single_id(tokenizer, ":")
        self.close_ids = [i for i in (self.end_id, self.separator_id) if i is not None]
        eos = getattr(tokenizer, "eos_token_id", None)
        self.eos_id = None if eos is None else int(eos)
        pointers = [_single_id(tokenizer, t) for t in POINTER_TOKENS]
        self.pointer_ids = torch.tensor([i for i in pointers if i is not None], dtype=torch.long)
        self.pointer_set = frozenset(self.pointer_ids.tolist())
        tags = (self.think_open_id, self.think_close_id, self.open_id, self.end_id)
        self.grammar = all(tag is not None for tag in tags)  # all four tags are single ids
        self.other_tags = [t for t in (self.think_open_id, self.think_close_id, self.open_id)
                           if t is not None]
        self.not_in_query = self._not_in_query(tokenizer)
        footer = tokenizer(FOOTER, add_special_tokens=False)["input_ids"]
        self.footer_ids = [int(i) for i in footer]
        header = tokenizer(HEADER, add_special_tokens=False)["input_ids"]
        self.header_ids = [int(i) for i in header]
        self._pointer_words: dict[int, dict[int, int]] = {}
        self._static: dict[int, torch.BoolTensor] = {}  # per row: _always_blocked
        self._line_words: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # per row
        self._rows: list[_RowState] = []

    def _not_in_query(self, tokenizer) -> list[int]:
        """Ids that may not appear in a query: special tokens (``<unk>`` decodes to tag
        characters, ``<pad>``/``<bos>`` to nothing) and any token whose text holds ``<``,
        ``>`` or ``|`` other than the pointers and the separator."""
        keep = self.pointer_set | {self.separator_id, self.end_id}
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        bad = {i for text, i in tokenizer.get_vocab().items()
               if any(ch in text for ch in "<>|")} | special
        return sorted(int(i) for i in bad - keep if i is not None)

    # ------------------------------------------------------------------ prompt lines
    def pointer_words(self, row: int, input_ids: torch.LongTensor) -> dict[int, int]:
        """``{pointer id: words of its line}`` for the pointers this row's prompt names.

        A line's words are the tokens of its text (after the ``domain [Kx]:`` head) up to
        the next pointer or the prompt's footer, at most ``MAX_QUERY_WORDS`` (a line is
        never longer as text; punctuation can make it longer in tokens, so a lone pointer
        always fits). Computed once per row of a ``generate`` call.
        """
        if row in self._pointer_words:
            return self._pointer_words[row]
        prompt = input_ids[row, :self.prompt_length].tolist()
        end = len(prompt)
        n = len(self.footer_ids)
        if n and prompt[-n:] == self.footer_ids:
            end -= n
        starts = [i for i, token in enumerate(prompt) if token in self.pointer_set]
        words: dict[int, int] = {}
        for k, i in enumerate(starts):
            stop = starts[k + 1] if k + 1 < len(starts) else end
            line = _before(prompt[i + 1:stop], self.header_ids)  # the last candidate line
            # runs into the signals' header
            text = line[line.index(self.colon_id) + 1:] if self.colon_id in line else line
            words.setdefault(prompt[i], max(1, min(len(text), MAX_QUERY_WORDS)))
        self._pointer_words[row] = words
        return words

    # ------------------------------------------------------------------ the grammar
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_length:]
        if self.open_id is None:
            return scores
        budget = self.max_new_tokens
        blocked = torch.zeros_like(scores, dtype=torch.bool)
        forced: dict[int, int] = {}
        for row, state in enumerate(self._states(generated)):
            if state.finished:  # eos written: the row is padding from here on
                continue
            left = None if budget is None else budget - state.length  # tokens still to write
            if self.grammar:
                token = self._outside_list(state, left, blocked[row])
                if token is not None:
                    forced[row] = token
                    continue
            if not state.list_open:  # no <queries> yet, or the last block is closed
                continue
            token = self._inside_list(row, input_ids, state, left, blocked[row])
            if token is not None:
                forced[row] = token
            elif bool(blocked[row].all()):  # nothing left to write: let the list close
                blocked[row, self.end_id if self.end_id is not None else self.eos_id] = False
        scores = scores.masked_fill(blocked, float("-inf"))
        for row, token in forced.items():
            scores[row] = float("-inf")
            scores[row, token] = 0.0
        return scores

    def _states(self, generated: torch.LongTensor) -> list[_RowState]:
        """Each row's parse of its generated tokens, carried from the previous step.

        ``generate`` calls the guard once per step with every row one token longer, so a
        row's state reads only its new token; any other shape (a first call, a new batch)
        parses the rows afresh.
        """
        length = generated.shape[1]
        if len(self._rows) == generated.shape[0] and all(
                state.length == length - 1 for state in self._rows):
            for state, token in zip(self._rows, generated[:, -1].tolist(), strict=True):
                state.read(token)
        else:
            self._rows = [_RowState(self) for _ in range(generated.shape[0])]
            for state, tokens in zip(self._rows, generated.tolist(), strict=True):
                for token in tokens:
                    state.read(token)
        return self._rows

    def _outside_list(self, state: _RowState, left: int | None, blocked: torch.Tensor
                      ) -> int | None:
        """Rules before ``<queries>`` and after ``</queries>``; a forced token or None."""
        if not state.length:
            return self.think_open_id  # a completion opens with <think>
        if state.ended:
            return self.eos_id  # nothing may follow the list
        if state.opened:
            return None  # inside the list: see _inside_list
        if state.reasoned:
            return self.open_id  # the list follows the reasoning at once
        # inside <think>: no other tag, no end; close it while a shortest list still fits
        reserve = 2 * MIN_QUERIES + 2  # </think> <queries> q | q | q </queries>
        if left is not None and left - 1 < reserve:
            return self.think_close_id
        blocked[[self.think_open_id, self.open_id, self.end_id]] = True
        if self.eos_id is not None:
            blocked[self.eos_id] = True
        return None

    def _inside_list(self, row: int, input_ids: torch.LongTensor, state: _RowState,
                     left: int | None, blocked: torch.Tensor) -> int | None:
        """Rules inside an open ``<queries>`` block; a forced token or None."""
        queries, current = state.queries, state.current
        if state.used:
            blocked[list(state.used)] = True  # one signal line is copied at most once
        blocked |= self._always_blocked(row, input_ids, blocked.shape[0])
        may_close = bool(current) and tuple(current) not in queries
        if not may_close:
            blocked[self.close_ids] = True
        if self.separator_id is None:  # queries cannot be counted (pretrained tokenizers)
            if left == 1 and may_close:
                return self.end_id
            return None
        n_written = len(queries) + 1  # the current query included
        if n_written < MIN_QUERIES:
            blocked[self.end_id] = True
        if n_written >= MAX_QUERIES:
            blocked[self.separator_id] = True
        if self.grammar:
            self._limit_words(row, input_ids, current, blocked)
        if left is not None:
            return self._keep_within_budget(queries, current, may_close, left, blocked)
        return None

    def _keep_within_budget(self, queries: list[tuple], current: list[int], may_close: bool,
                            left: int, blocked: torch.Tensor) -> int | None:
        """Allow only steps after which a shortest valid ending still fits in ``left``
        tokens (this one included); a forced token or None.

        A shortest ending from an open query that may close writes, for each query still
        missing, a separator and one word, then ``</queries>``; a query that is empty or
        repeats an earlier one needs a word first.
        """
        missing = max(MIN_QUERIES - (len(queries) + 1), 0)  # queries after the current one
        ending = 2 * missing + 1  # from a query that may close
        if may_close and left - 1 < ending:  # no room for another word: close it now
            return self.end_id if missing == 0 else self.separator_id
        if left - 1 < ending + 1:  # a word now must leave a query that may close
            completes_a_repeat = [q[-1] for q in queries
                                  if len(q) == len(current) + 1 and list(q[:-1]) == current]
            blocked[completes_a_repeat] = True
        if left - 1 < 2 * max(missing, 1):  # after a separator: a word, the rest, the close
            blocked[self.separator_id] = True
        return None

    def _always_blocked(self, row: int, input_ids: torch.LongTensor, width: int
                        ) -> torch.BoolTensor:
        """What this row may never write inside its list, whatever it wrote so far (one
        mask per row, built once): eos, with the grammar the other tags, the tokens no
        query holds and the pointers to lines its prompt lacks."""
        if row not in self._static:
            mask = torch.zeros(width, dtype=torch.bool)
            if self.eos_id is not None:
                mask[self.eos_id] = True
            if self.grammar:
                mask[self.other_tags] = True
                mask[self.not_in_query] = True
                if self.separator_id is not None and len(self.pointer_ids):
                    lines = self.pointer_words(row, input_ids)
                    mask[[int(p) for p in self.pointer_ids.tolist() if p not in lines]] = True
            self._static[row] = mask
        return self._static[row]

    def _limit_words(self, row: int, input_ids: torch.LongTensor, current: list[int],
                     blocked: torch.Tensor) -> None:
        """Forbid tokens that would take the current query past ``MAX_QUERY_WORDS`` words
        (a pointer counts the words of its line, :meth:`pointer_words`; pointers to lines
        the prompt lacks are forbidden by :meth:`_always_blocked`)."""
        lines = self.pointer_words(row, input_ids)
        words = sum(lines.get(t, 1) if t in self.pointer_set else 1 for t in current)
        if lines:
            if row not in self._line_words:
                self._line_words[row] = (torch.tensor(list(lines), dtype=torch.long),
                                         torch.tensor(list(lines.values()), dtype=torch.long))
            pointers, sizes = self._line_words[row]
            blocked[pointers[sizes > MAX_QUERY_WORDS - words]] = True
        if words + 1 > MAX_QUERY_WORDS:  # any other word is one too many: only a close
            keep = blocked[self.close_ids].clone()
            blocked[:] = True
            blocked[self.close_ids] = keep


def guard_allowed(tokenizer, input_ids: torch.LongTensor, completion_length: int,
                  max_new_tokens: int | None, vocabulary: int) -> torch.BoolTensor:
    """Which tokens the :class:`DuplicateQueryGuard` allowed at each completion position:
    ``(rows, completion_length, vocabulary)``, True where a token could be sampled.

    ``input_ids`` holds the (left-padded) prompts followed by the completions that were
    sampled under the guard (the last ``completion_length`` columns). The guard is replayed
    over the completions as ``generate`` called it, one position at a time, so the mask at
    position ``t`` is the one the sampler saw before writing token ``t`` (a forced token:
    only that one). Training that normalises the policy's logits over these tokens learns
    the distribution its rollouts were drawn from. ``vocabulary``: the logits' width.
    """
    rows = input_ids.size(0)
    prompt_length = input_ids.size(1) - completion_length
    guard = DuplicateQueryGuard(tokenizer, prompt_length, max_new_tokens)
    allowed = torch.ones(rows, completion_length, vocabulary, dtype=torch.bool)
    zeros = torch.zeros(rows, vocabulary)
    for t in range(completion_length):
        scores = guard(input_ids[:, :prompt_length + t].cpu(), zeros)
        allowed[:, t] = torch.isfinite(scores)
    return allowed.to(input_ids.device)


def _before(tokens: list[int], marker: list[int]) -> list[int]:
    """``tokens`` up to the first occurrence of the ``marker`` sequence (all if absent)."""
    n = len(marker)
    if n:
        for start in range(len(tokens) - n + 1):
            if tokens[start:start + n] == marker:
                return tokens[:start]
    return tokens


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
def generate_wrapped(model, wrap, flag: str) -> Iterator[object]:
    """Within the block, ``model.generate`` is ``wrap(the current generate)``, marked with
    the attribute ``flag``; a no-op when the current one already carries it. On exit the
    ``generate`` from before is back: another wrapper's, or the class method. Wrappers
    nest in any order."""
    if getattr(model.generate, flag, False):
        yield model
        return
    own = vars(model).get("generate")  # an instance attribute, e.g. another wrapper
    wrapper = wrap(model.generate)
    setattr(wrapper, flag, True)
    model.generate = wrapper
    try:
        yield model
    finally:
        if own is None:
            del model.generate  # the class method shows through again
        else:
            model.generate = own


def guarded(model, tokenizer, enabled: bool = True):
    """Within the block, ``model.generate`` applies the :class:`DuplicateQueryGuard`."""
    if not enabled:
        return contextlib.nullcontext(model)
    return generate_wrapped(model, lambda original: functools.partial(
        _guarded_generate, original, tokenizer), "_duplicate_guard")
