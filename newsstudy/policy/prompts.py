"""Prompts from a user's cleaned signals, pointer expansion, and the SFT demonstrations.

The prompt is a plain-text template (the from-scratch models have no chat template)::

    <bos>signals:
    <s1> news: Trump suggests Obama was 'behind' town hall protests
    <s2> search 3x: donald trump order latest
    <s3> browse: northern party : discussion thread - Reddit
    write news search queries:

Its lines are the user's *digest* (:func:`digest`): the distinct cleaned signals
(``world.clean_events()``; two signals are the same when their normalised, case-folded
texts are), most recent first, at most ``max_signals`` of them (and
:data:`MAX_POINTERS`), each with its domain, how often it came (``3x``) and at most 12
words of its text (a copied line is always a valid query); the oldest lines are dropped
to fit ``max_chars``. The rubric judge reads the same signals (:func:`digest_events`), so
policy and reward see the same user. Signal texts pass through
:func:`~newsstudy.output_format.normalize_query` (no control characters, no ``<``/``>``,
one line each), so no event can inject a format marker, a pointer or a special token.
Latent labels are never read.

Each line is named by a *pointer token* ``<sN>`` (one id in the ladder tokenizers). The
policy copies a signal by writing its pointer and may write words of its own around it;
:func:`expand_pointers` replaces each pointer by its line's text, deterministically, before
any reward, retrieval or A/B path sees the list.

For Hugging Face instruct models, ``chat=True`` puts the same lines in a user turn after a
short system text and renders it with ``tokenizer.apply_chat_template``.

The surface demonstrations (:func:`surface_demonstrations`) are what a heuristic writes
from the observed signals: ``copy`` of :mod:`newsstudy.world.strategies` (the most recent
distinct signals, whole) as pointers, e.g.
``<think>recent: news, search</think><queries><s1> | <s2> | <s3> | <s4> | <s5></queries>``,
plus recency-weighted draws of recent lines. They play the paper's "prompt-only" role as
the SFT warm start.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from newsstudy.output_format import (
    FORMAT_SPEC,
    MAX_QUERY_WORDS,
    QUERIES_CLOSE,
    QUERIES_OPEN,
    SEPARATOR,
    THINK_CLOSE,
    THINK_OPEN,
    normalize_query,
)
from newsstudy.policy.interests import interest_candidates
from newsstudy.world import strategies

BOS = "<bos>"
HEADER = "signals:\n"
CANDIDATES_HEADER = "interests:\n"
CANDIDATE_DOMAIN = "interest"
FOOTER = "write news search queries:\n"
SYSTEM_TEXT = (
    "You read a user's recent cross-domain signals (web searches, browsed pages, news "
    "clicks), reason about the interests behind them, and write news search queries. "
    + FORMAT_SPEC
)
DOMAINS = ("search", "browse", "news")


PROMPT_FORMAT = 4  # bump when the prompt text changes (part of every checkpoint's cache key)
# 4: interest candidates may open the prompt, the signals numbered after them
MAX_POINTERS = 64
POINTER_TOKENS: tuple[str, ...] = tuple(f"<s{i}>" for i in range(1, MAX_POINTERS + 1))
MAX_LINE_WORDS = MAX_QUERY_WORDS  # a copied line is always a valid query
_POINTER = re.compile(r"<s(\d{1,3})>")
_LINE = re.compile(r"^<s(\d{1,3})> [a-z]+(?: \d+x)?: (.*)$")


@dataclasses.dataclass(frozen=True)
class Signal:
    """One line of the digest: a distinct cleaned signal, its domain and how often it came."""

    text: str
    domain: str
    count: int
    last_day: int


def digest(events: pd.DataFrame, max_signals: int = 48) -> list[Signal]:
    """One user's distinct cleaned signals, most recent first, at most ``max_signals``.

    Signals are the same when their normalised, case-folded texts are; each keeps the
    domain and text of its latest occurrence, and counts all of them. This is what the
    policy reads and what the rubric judge reads (:func:`digest_events`).
    """
    if max_signals < 1:
        raise ValueError(f"max_signals must be >= 1, got {max_signals}")
    ordered = events.sort_values(["day", "event_id"])
    latest: dict[str, Signal] = {}
    for day, domain, text in zip(ordered["day"], ordered["domain"], ordered["text"], strict=True):
        clean = normalize_query(text, max_chars=None)
        key = _signal_key(clean)
        if not key:
            continue
        count = latest[key].count + 1 if key in latest else 1
        latest.pop(key, None)  # re-insert: dict order is recency order
        latest[key] = Signal(clean, str(domain), count, int(day))
    return list(reversed(latest.values()))[:max_signals]


def digest_events(world, max_signals: int = 48) -> pd.DataFrame:
    """The cleaned events behind every user's digest (all occurrences of its signals).

    The rubric judge infers interests from these rows, so it reads what the prompt shows
    (with repeats counted, as the prompt's ``3x`` does).
    """
    clean = world.clean_events()
    keys = pd.Series([_signal_key(normalize_query(t, max_chars=None)) for t in clean["text"]],
                     index=clean.index)
    clean, keys = clean[keys != ""], keys[keys != ""]  # no signal, as in digest()
    last = (clean.assign(key=keys).sort_values(["day", "event_id"])
            .drop_duplicates(["user_id", "key"], keep="last"))
    last = last.iloc[::-1]
    last = last[last.groupby("user_id").cumcount() < max_signals]
    kept = pd.MultiIndex.from_frame(last[["user_id", "key"]])
    mine = pd.MultiIndex.from_arrays([clean["user_id"], keys])
    return clean[mine.isin(kept)]


def candidate_line(number: int, query: str) -> str:
    """``<sN> interest: query`` (at most 12 words): an interest candidate the policy may
    point at (:mod:`newsstudy.policy.interests`)."""
    words = normalize_query(query.replace("|", " "), max_chars=None).split()[:MAX_LINE_WORDS]
    return f"{POINTER_TOKENS[number - 1]} {CANDIDATE_DOMAIN}: {' '.join(words)}"


def signal_line(number: int, signal: Signal) -> str:
    """``<sN> domain: text`` (``domain 3x:`` for a repeated signal), at most 12 words of text."""
    words = signal.text.split()[:MAX_LINE_WORDS]
    count = f" {signal.count}x" if signal.count > 1 else ""
    return f"{POINTER_TOKENS[number - 1]} {signal.domain}{count}: {' '.join(words)}"


def signal_lines(events: pd.DataFrame, max_signals: int = 48, max_chars: int = 4000,
                 first: int = 1) -> list[str]:
    """The digest as numbered prompt lines, most recent first, bounded.

    Keeps the ``max_signals`` most recent distinct signals (at most the pointers left
    from ``first``, the number of the first line), then drops the oldest lines until the
    lines (with their newlines) fit in ``max_chars``.
    """
    if max_signals < 1 or max_chars < 1:
        raise ValueError(f"max_signals and max_chars must be >= 1, got {max_signals}, {max_chars}")
    lines, used = [], 0
    room = max(MAX_POINTERS - first + 1, 0)
    for number, signal in enumerate(digest(events, max(min(max_signals, room), 1)),
                                    start=first):
        if number > MAX_POINTERS:
            break
        line = signal_line(number, signal)
        if used + len(line) + 1 > max_chars:
            if not lines:
                lines.append(line[: max_chars - 1].rstrip())
            break
        lines.append(line)
        used += len(line) + 1
    return lines


def pointed_lines(prompt: str) -> dict[int, str]:
    """``{N: text}`` of the numbered signal lines of a prompt (any text: never raises)."""
    out: dict[int, str] = {}
    for line in str(prompt).splitlines():
        match = _LINE.match(line.strip())
        if match:
            out.setdefault(int(match.group(1)), match.group(2).strip())
    return out


def expand_pointers(completion, prompt) -> str:
    """The completion with every ``<sN>`` replaced by the text of the prompt's line N.

    The policy may copy a signal by writing its line's pointer token and may write words
    of its own around it; expansion is deterministic and part of the policy (rewards and
    serving see expanded lists). A pointer to a line the prompt lacks becomes nothing.
    Never raises.
    """
    if not isinstance(completion, str):
        return completion
    if "<s" not in completion:
        return completion
    lines = pointed_lines(prompt)
    return _POINTER.sub(lambda m: lines.get(int(m.group(1)), "").replace("|", " "), completion)


def build_prompts(world, users: Iterable[int], max_signals: int = 48, max_chars: int = 4000,
                  chat: bool = False, tokenizer=None, bos: str = BOS,
                  candidates: int = 0) -> dict[int, str]:
    """Prompt per user id, from the user's cleaned signals only (see the module doc).

    ``bos`` opens the plain-text prompt (the ladder tokenizer maps ``<bos>`` to its BOS id);
    pass ``bos=""`` for a model whose tokenizer adds its own. ``chat=True`` needs a
    ``tokenizer`` with ``apply_chat_template`` and ignores ``bos``. ``candidates``: up to
    that many interest candidates (:mod:`newsstudy.policy.interests`) open the prompt as
    lines ``<s1> interest: ...`` under ``interests:``, and the signal lines are numbered
    after them.
    """
    if chat and tokenizer is None:
        raise ValueError("chat=True needs the tokenizer whose chat template renders the prompt")
    users = [int(u) for u in users]
    clean = world.clean_events()
    clean = clean[clean["user_id"].isin(users)]
    groups = {int(u): g for u, g in clean.groupby("user_id")}
    empty = clean.iloc[:0]
    offered = interest_candidates(world, users, candidates) if candidates else {}
    prompts = {}
    for user in users:
        mine = offered.get(user, [])
        head = (CANDIDATES_HEADER + "".join(candidate_line(i, q) + "\n"
                                            for i, q in enumerate(mine, start=1))
                if candidates else "")
        body = head + HEADER + "".join(
            line + "\n" for line in signal_lines(groups.get(user, empty), max_signals, max_chars,
                                                 first=len(mine) + 1))
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


def surface_context(world, n_queries: int, seed: int = 0) -> strategies.StrategyContext:
    """A :class:`~newsstudy.world.strategies.StrategyContext` for surface demonstrations.

    Build one per call site, not per user. Its embedder loads MiniLM only if a strategy
    that needs embeddings is called (``copy`` does not).
    """
    return strategies.StrategyContext(world, _LazyEmbedder(), n_queries=n_queries, seed=seed)


def _signal_key(text: str) -> str:
    return normalize_query(text.replace("|", " "), max_chars=None).casefold()


def _render_pointers(domains: Sequence[str], numbers: Sequence[int]) -> str:
    """A demonstration pointing at prompt lines ``numbers`` (``domains[n - 1]``: line n's
    domain); the reasoning names the distinct domains, in list order (at most three)."""
    sources = list(dict.fromkeys(domains[n - 1] for n in numbers))[:3]
    body = f" {SEPARATOR} ".join(POINTER_TOKENS[n - 1] for n in numbers)
    return f"{THINK_OPEN}recent: {', '.join(sources)}{THINK_CLOSE}{QUERIES_OPEN}{body}{QUERIES_CLOSE}"


def surface_demonstrations(ctx: strategies.StrategyContext, users: Iterable[int],
                           max_signals: int = 48, per_user: int = 1, pool: int = 10,
                           decay: float = 0.8, seed: int = 0,
                           offered: Mapping[int, int] | None = None
                           ) -> dict[int, list[str]] | dict[int, str]:
    """Surface demonstrations per user: ``copy`` as pointers to the prompt's lines, and
    draws that mix copied signals with the prompt's interest candidates.

    ``copy`` writes the user's most recent distinct signals verbatim; in the prompt they
    are lines ``<s1>``, ``<s2>``, ... (most recent first; after the ``K`` interest
    candidates when the prompt offers them, :func:`build_prompts`), so its demonstration is
    ``<think>recent: news, search</think><queries><s1> | <s2> | <s3> | <s4> | <s5></queries>``
    (``n_queries`` of the context; fewer when the user has fewer distinct signals). Its
    expansion (:func:`expand_pointers`) is ``copy``'s list. The reasoning lists the
    distinct domains of the lines written (``interest`` for a candidate), at most three.

    With ``per_user = 1`` the result is ``{user: demonstration}``. With more, it is
    ``{user: [demonstrations]}``: the first is ``copy``'s, each other writes ``n_queries``
    lines: ``m`` of the user's ``K`` interest candidates (``offered[user]``: the number of
    candidate lines the user's prompt opens with, :func:`offered_candidates`), ``m`` drawn uniformly from 0 to ``min(n_queries, K)`` and the
    candidates uniformly without replacement, listed in the prompt's order; the rest
    copied signals drawn without replacement from the ``pool`` most recent, line ``r``
    (0 the most recent) with weight ``decay ** r``, listed most recent first. So the warm
    start samples lists that differ in what they copy and in how many and which
    candidates they write, with no preference for any: the variation GRPO learns from, as
    a prompted LLM's samples differ. Without candidates every draw copies signals only.
    Draws are seeded by ``(seed, user, j)``.

    A user with fewer than three distinct signals gets fewer queries than the format
    asks for; filter on the expanded text with ``parse_completion(...).format_ok`` if only
    well-formed demonstrations should be trained on.
    """
    if per_user < 1 or pool < 1 or not 0 < decay <= 1:
        raise ValueError(f"per_user and pool must be >= 1 and decay in (0, 1], got "
                         f"{per_user}, {pool}, {decay}")
    users = [int(u) for u in users]
    clean = ctx.world.clean_events()
    clean = clean[clean["user_id"].isin(users)]
    groups = {int(u): g for u, g in clean.groupby("user_id")}
    empty = clean.iloc[:0]
    out: dict = {}
    for user in users:
        first = int(offered.get(user, 0)) if offered else 0  # candidate lines before signals
        lines = digest(groups.get(user, empty), max(min(max_signals, MAX_POINTERS - first), 1))
        domains = [CANDIDATE_DOMAIN] * first + [line.domain for line in lines]
        k = min(ctx.n_queries, len(lines))
        demos = [_render_pointers(domains, range(first + 1, first + k + 1))]
        recent = np.arange(first + 1, first + min(pool, len(lines)) + 1)
        weights = decay ** (recent - first - 1.0)
        for j in range(1, per_user):
            rng = np.random.default_rng([seed, user, j])
            chosen: list[int] = []
            if first:
                m = int(rng.integers(0, min(ctx.n_queries, first) + 1))
                chosen = sorted(int(c) + 1 for c in rng.choice(first, size=m, replace=False))
            size = min(ctx.n_queries - len(chosen), len(recent))
            drawn = (rng.choice(recent, size=size, replace=False, p=weights / weights.sum())
                     if size > 0 else [])
            demos.append(_render_pointers(domains, [*chosen, *sorted(int(n) for n in drawn)]))
        out[user] = demos if per_user > 1 else demos[0]
    return out


def history_until(world, day: int):
    """A view of ``world`` whose observable history stops before ``day``.

    Prompts and demonstrations built on it are those the user would have had on that day
    (its ``history_days``, the day from which a signal's age is counted, is ``day``). Only
    ``events`` is cut; the latent and test frames are untouched (and unused here).
    """
    manifest = world.manifest if isinstance(getattr(world, "manifest", None), dict) else None
    if manifest is None:
        return dataclasses.replace(world, events=world.events[world.events["day"] < day])
    params = {**manifest.get("params", {}), "history_days": int(day)}
    return dataclasses.replace(world, events=world.events[world.events["day"] < day],
                               manifest={**manifest, "params": params})


def surface_demonstration(ctx: strategies.StrategyContext, user: int) -> str:
    """The surface demonstration of one user (see :func:`surface_demonstrations`)."""
    return surface_demonstrations(ctx, [user])[int(user)]


def offered_candidates(prompt: str) -> int:
    """How many interest-candidate lines (``<sN> interest: ...``) a prompt offers (any
    text: never raises)."""
    return sum(1 for line in str(prompt).splitlines()
               if _LINE.match(line.strip()) and line.split(" ", 2)[1].rstrip(":")
               == CANDIDATE_DOMAIN)


def recipe_demonstrations(world, settings, users: Iterable[int],
                          prompts: Mapping[int, str] | None = None) -> dict[int, list[str]]:
    """The recipe's surface demonstrations per user, always as a list (raw pointer text).

    ``settings`` carries ``n_queries``, ``seed``, ``max_prompt_signals``,
    ``demos_per_user`` and ``demo_pool`` (the teacher recipe); see
    :func:`surface_demonstrations`. ``prompts``: the users' prompts, whose interest
    candidates the draws may point at (none without them).
    """
    ctx = surface_context(world, n_queries=settings.n_queries, seed=settings.seed)
    offered = ({int(u): offered_candidates(p) for u, p in prompts.items()}
               if prompts is not None else None)
    demos = surface_demonstrations(ctx, users, settings.max_prompt_signals,
                                   per_user=settings.demos_per_user, pool=settings.demo_pool,
                                   seed=settings.seed, offered=offered)
    return {int(u): d if isinstance(d, list) else [d] for u, d in demos.items()}
