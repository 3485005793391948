"""Prompts from a user's cleaned signals, and the surface demonstrations for SFT.

The prompt is a plain-text template (the from-scratch models have no chat template)::

    <bos>signals:
    search: donald trump order latest
    browse: northern party : discussion thread - Reddit
    news: Trump suggests Obama was 'behind' town hall protests
    write news search queries:

The signals are the user's most recent *cleaned* events (``world.clean_events()``),
oldest first and most recent last, at most ``max_signals`` lines and ``max_chars``
characters of signal lines (oldest dropped first). Signal texts pass through
:func:`~newsstudy.output_format.normalize_query` (no control characters, no ``<``/``>``,
one line each), so no event can inject a format marker or a special token. Latent labels
are never read.

For Hugging Face instruct models, ``chat=True`` puts the same signals in a user turn
after a short system text and renders it with ``tokenizer.apply_chat_template``.

The surface demonstration is what a heuristic writes from the user's own observed
signals: the ``copy`` strategy of :mod:`newsstudy.strategies` (the most recent distinct
signals, verbatim) with a short reasoning naming the domains they came from, e.g.
``<think>recent: search, news, browse</think><queries>a | b | c</queries>``. It plays the
paper's "prompt-only" role as the SFT warm start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from newsstudy import strategies
from newsstudy.output_format import (
    FORMAT_SPEC,
    normalize_query,
    parse_completion,
    render_completion,
)

BOS = "<bos>"
HEADER = "signals:\n"
FOOTER = "write news search queries:\n"
SYSTEM_TEXT = (
    "You read a user's recent cross-domain signals (web searches, browsed pages, news "
    "clicks), reason about the interests behind them, and write news search queries. "
    + FORMAT_SPEC
)
DOMAINS = ("search", "browse", "news")


def signal_lines(events: pd.DataFrame, max_signals: int = 24, max_chars: int = 600) -> list[str]:
    """``domain: text`` lines of one user's cleaned events, oldest first, bounded.

    Keeps the ``max_signals`` most recent events, then drops the oldest lines until the
    lines (with their newlines) fit in ``max_chars``; a single line longer than that is cut.
    """
    if max_signals < 1 or max_chars < 1:
        raise ValueError(f"max_signals and max_chars must be >= 1, got {max_signals}, {max_chars}")
    recent = events.sort_values(["day", "event_id"]).tail(max_signals)
    lines = [f"{d}: {normalize_query(t, max_chars=None)}"
             for d, t in zip(recent["domain"], recent["text"], strict=True)]
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        if used + len(line) + 1 > max_chars:
            if not kept:
                kept.append(line[: max_chars - 1].rstrip())
            break
        kept.append(line)
        used += len(line) + 1
    return kept[::-1]


def build_prompts(world, users: Iterable[int], max_signals: int = 24, max_chars: int = 600,
                  chat: bool = False, tokenizer=None, bos: str = BOS) -> dict[int, str]:
    """Prompt per user id, from the user's cleaned signals only (see the module doc).

    ``bos`` opens the plain-text prompt (the ladder tokenizer maps ``<bos>`` to its BOS id);
    pass ``bos=""`` for a model whose tokenizer adds its own. ``chat=True`` needs a
    ``tokenizer`` with ``apply_chat_template`` and ignores ``bos``.
    """
    if chat and tokenizer is None:
        raise ValueError("chat=True needs the tokenizer whose chat template renders the prompt")
    users = [int(u) for u in users]
    clean = world.clean_events()
    clean = clean[clean["user_id"].isin(users)]
    groups = {int(u): g for u, g in clean.groupby("user_id")}
    empty = clean.iloc[:0]
    prompts = {}
    for user in users:
        body = HEADER + "".join(
            line + "\n" for line in signal_lines(groups.get(user, empty), max_signals, max_chars))
        if chat:
            messages = [{"role": "system", "content": SYSTEM_TEXT},
                        {"role": "user", "content": body + FOOTER.rstrip("\n")}]
            prompts[user] = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True)
        else:
            prompts[user] = bos + body + FOOTER
    return prompts


class _LazyEmbedder:
    """Named like the world's embedder so a StrategyContext needs no model until used."""

    name = "minilm"

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        from newsstudy.embed import get_embedder

        return get_embedder("minilm").encode(texts, show_progress=show_progress)


def surface_context(world, n_queries: int = 5, seed: int = 0) -> strategies.StrategyContext:
    """A :class:`~newsstudy.strategies.StrategyContext` for surface demonstrations.

    Build one per call site, not per user. Its embedder loads MiniLM only if a strategy
    that needs embeddings is called (``copy`` does not).
    """
    return strategies.StrategyContext(world, _LazyEmbedder(), n_queries=n_queries, seed=seed)


def _signal_key(text: str) -> str:
    return normalize_query(text.replace("|", " "), max_chars=None).casefold()


def surface_demonstrations(ctx: strategies.StrategyContext, users: Iterable[int],
                           max_query_words: int | None = None) -> dict[int, str]:
    """Surface demonstration per user: ``copy``'s queries, reasoning naming their domains.

    ``max_query_words`` keeps the first words of each copied signal (a headline becomes a
    search-length query; ``None`` keeps them whole).

    The reasoning lists the distinct domains of the copied signals, most recent first
    (at most three words, so a small model learns to close it rather than loop).

    A user with fewer than three distinct signals gets fewer queries than the format
    asks for (``copy`` does not pad); filter with ``parse_completion(...).format_ok`` if
    only well-formed demonstrations should be trained on.
    """
    users = [int(u) for u in users]
    clean = ctx.world.clean_events()
    clean = clean[clean["user_id"].isin(users)].sort_values(["day", "event_id"])
    domain_of = {int(u): dict(zip(map(_signal_key, g["text"]), g["domain"], strict=True))
                 for u, g in clean.groupby("user_id")}
    out = {}
    for user in users:
        queries = parse_completion(strategies.copy(ctx, user)).queries
        domains = domain_of.get(user, {})
        sources = dict.fromkeys(domains.get(q.casefold(), "signal") for q in queries)
        reasoning = "recent: " + ", ".join(sources)
        if max_query_words is not None:
            queries = list(dict.fromkeys(" ".join(q.split()[:max_query_words]) for q in queries))
        out[user] = render_completion(queries, reasoning=reasoning)
    return out


def history_until(world, day: int):
    """A view of ``world`` whose observable history stops before ``day``.

    Prompts and demonstrations built on it are those the user would have had on that day:
    several cut-offs per user give more SFT pairs without new users. Only ``events`` is
    cut; the latent and test frames are untouched (and unused here).
    """
    return dataclasses.replace(world, events=world.events[world.events["day"] < day])


def surface_demonstration(ctx: strategies.StrategyContext, user: int) -> str:
    """The surface demonstration of one user (see :func:`surface_demonstrations`)."""
    return surface_demonstrations(ctx, [user])[int(user)]
