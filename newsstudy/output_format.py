"""The policy's output format: reasoning first, then a list of news search queries.

A completion is::

    <think>free-text reasoning</think><queries>q1 | q2 | q3</queries>

The paper says the model reasons, then lists queries, but gives no format; this is ours.
The strict format (what ``R_struct`` rewards, ``format_ok``) is:

* exactly one ``<think>...</think>`` block, then exactly one ``<queries>...</queries>``
  block, and nothing but whitespace outside them (tags are lowercase, exactly as shown);
* inside ``<queries>``, queries separated by ``|``: between ``min_queries`` and
  ``max_queries`` of them (defaults 3 and 8), each non-empty after stripping, at most
  ``max_query_words`` words (default 12) and ``max_query_chars`` characters (default
  200), no two equal ignoring case, and no tag characters ``<`` or ``>``.

:func:`parse_completion` never raises on any input (``None``, bytes, other objects,
huge strings, any unicode, control characters). When the format does not hold it still
extracts the best-effort queries -- from the first ``<queries>...</queries>`` block if
there is one (an unclosed block counts as absent, e.g. a generation cut off by the token
limit), else none -- and lists every problem found, as short codes (``PROBLEMS`` explains
each). Extracted queries are normalised: control and zero-width characters and tag
characters dropped, whitespace collapsed, stripped, cut to ``max_query_chars``; empty
queries and case-insensitive repeats are dropped; at most ``MAX_EXTRACTED_QUERIES`` (32)
are kept, so a huge completion cannot blow up retrieval or reward work downstream.

:func:`render_completion` is the inverse, for demonstrations and tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
QUERIES_OPEN, QUERIES_CLOSE = "<queries>", "</queries>"
TAGS: tuple[str, ...] = (THINK_OPEN, THINK_CLOSE, QUERIES_OPEN, QUERIES_CLOSE)
SEPARATOR = "|"
TAG_CHARS = "<>"

MIN_QUERIES = 3
MAX_QUERIES = 8
MAX_QUERY_WORDS = 12
MAX_QUERY_CHARS = 200
MAX_EXTRACTED_QUERIES = 32

FORMAT_SPEC = (
    "First reason about the user's interests inside <think>...</think>. Then write "
    f"{MIN_QUERIES} to {MAX_QUERIES} distinct news search queries inside "
    "<queries>...</queries>, separated by ' | ', each at most "
    f"{MAX_QUERY_WORDS} words, with no '<' or '>'. Write nothing outside the two blocks. "
    "Example: <think>The user follows EU politics and tennis.</think>"
    "<queries>Brexit negotiations | Australian Open final | EU migration policy</queries>"
)

PROBLEMS: dict[str, str] = {
    "not_text": "the completion is not a string",
    "missing_think": "no <think>...</think> block",
    "multiple_think": "more than one <think> or </think> tag",
    "missing_queries": "no closed <queries>...</queries> block",
    "multiple_queries": "more than one <queries> or </queries> tag",
    "wrong_order": "tags are not in the order <think></think><queries></queries>",
    "text_outside_tags": "non-whitespace text outside the two blocks",
    "too_few_queries": "fewer queries than min_queries",
    "too_many_queries": "more queries than max_queries",
    "empty_query": "a query is empty after stripping",
    "query_too_long": "a query has more than max_query_words words or max_query_chars chars",
    "duplicate_query": "two queries are equal ignoring case",
    "tag_in_query": "a query contains '<' or '>'",
}

# Characters dropped from queries: C0/C1 controls that are not whitespace, lone
# surrogates, zero-width and bidi-control characters, and the tag characters.
# (Whitespace controls such as tab and newline become spaces first.)
_DROPPED = (
    [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
    + [*range(0xD800, 0xE000)]
    + [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF]
    + [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    + [ord(ch) for ch in TAG_CHARS]
)
_DROP_TABLE = {code: None for code in _DROPPED if not chr(code).isspace()}


@dataclass(frozen=True)
class ParsedCompletion:
    """What :func:`parse_completion` found in one completion.

    ``queries``: best-effort, normalised, distinct queries (at most 32);
    ``format_ok``: the strict format holds (``problems`` is empty);
    ``reasoning``: the stripped text of the first think block, or ``""``;
    ``problems``: codes from ``PROBLEMS``, in a fixed order, each at most once.
    """

    queries: tuple[str, ...]
    format_ok: bool
    reasoning: str
    problems: tuple[str, ...]


def normalize_query(query: str, max_chars: int | None = MAX_QUERY_CHARS) -> str:
    """Drop control, zero-width and tag characters, collapse whitespace, strip, cap.

    ``max_chars=None`` leaves the length alone.

    >>> normalize_query("  brexit\\t\\x00 talks\\n<b> ")
    'brexit talks b'
    """
    cleaned = " ".join(query.translate(_DROP_TABLE).split())
    return cleaned if max_chars is None else cleaned[:max_chars].rstrip()


def _as_text(text: object) -> str | None:
    """``text`` as ``str`` (bytes decoded as UTF-8 with replacement), else ``None``."""
    if isinstance(text, str):
        return str(text)
    if isinstance(text, bytes | bytearray | memoryview):
        return bytes(text).decode("utf-8", errors="replace")
    return None


def _block(text: str, open_tag: str, close_tag: str) -> str | None:
    """Body of the first ``open_tag ... close_tag`` block, or ``None`` if not closed."""
    start = text.find(open_tag)
    if start < 0:
        return None
    end = text.find(close_tag, start + len(open_tag))
    return None if end < 0 else text[start + len(open_tag) : end]


def _structure_problems(text: str) -> list[str]:
    """Problems with the tags and the text around them."""
    counts = {tag: text.count(tag) for tag in TAGS}
    problems = []
    for name, open_tag, close_tag in (
        ("think", THINK_OPEN, THINK_CLOSE),
        ("queries", QUERIES_OPEN, QUERIES_CLOSE),
    ):
        if counts[open_tag] > 1 or counts[close_tag] > 1:
            problems.append(f"multiple_{name}")
        if _block(text, open_tag, close_tag) is None:
            problems.append(f"missing_{name}")
    if problems or any(count != 1 for count in counts.values()):
        return problems
    starts = [text.find(tag) for tag in TAGS]
    if starts != sorted(starts):
        return ["wrong_order"]
    ends = [start + len(tag) for start, tag in zip(starts, TAGS, strict=True)]
    outside = (text[: starts[0]], text[ends[1] : starts[2]], text[ends[3] :])
    return ["text_outside_tags"] if any(part.strip() for part in outside) else []


def _split_queries(body: str) -> tuple[int, list[str]]:
    """Number of ``|``-separated parts in ``body`` and the first 32 raw parts.

    An all-whitespace body has zero parts. Splitting is capped so a body with a
    million separators costs one ``count`` and one bounded ``split``.
    """
    if not body.strip():
        return 0, []
    n_parts = body.count(SEPARATOR) + 1
    parts = body.split(SEPARATOR, MAX_EXTRACTED_QUERIES)[:MAX_EXTRACTED_QUERIES]
    return n_parts, parts


def _query_problems(
    n_parts: int,
    raw_parts: list[str],
    min_queries: int,
    max_queries: int,
    max_query_words: int,
    max_query_chars: int,
) -> list[str]:
    """Problems with the queries of a block (lengths measured after normalising)."""
    problems = []
    if n_parts < min_queries:
        problems.append("too_few_queries")
    if n_parts > max_queries:
        problems.append("too_many_queries")
    cleaned = [normalize_query(part, max_chars=None) for part in raw_parts]
    if any(not query for query in cleaned):
        problems.append("empty_query")
    if any(len(q.split()) > max_query_words or len(q) > max_query_chars for q in cleaned):
        problems.append("query_too_long")
    keys = [query[:max_query_chars].rstrip().casefold() for query in cleaned if query]
    if len(set(keys)) < len(keys):
        problems.append("duplicate_query")
    if any(ch in part for part in raw_parts for ch in TAG_CHARS):
        problems.append("tag_in_query")
    return problems


def _distinct_queries(raw_parts: Iterable[str], max_query_chars: int) -> tuple[str, ...]:
    """Normalised, non-empty queries, first occurrence of each (ignoring case)."""
    kept: dict[str, str] = {}
    for part in raw_parts:
        query = normalize_query(part, max_query_chars)
        if query and query.casefold() not in kept:
            kept[query.casefold()] = query
    return tuple(kept.values())


def _check_limits(min_queries: int, max_queries: int, max_words: int, max_chars: int) -> None:
    """Raise ``ValueError`` for inconsistent limits (a caller bug, not a model output)."""
    if not 1 <= min_queries <= max_queries <= MAX_EXTRACTED_QUERIES:
        raise ValueError(
            "need 1 <= min_queries <= max_queries <= "
            f"{MAX_EXTRACTED_QUERIES}, got min_queries={min_queries}, max_queries={max_queries}"
        )
    if max_words < 1 or max_chars < 1:
        raise ValueError(
            f"max_query_words and max_query_chars must be >= 1, got {max_words}, {max_chars}"
        )


def parse_completion(
    text: object,
    *,
    min_queries: int = MIN_QUERIES,
    max_queries: int = MAX_QUERIES,
    max_query_words: int = MAX_QUERY_WORDS,
    max_query_chars: int = MAX_QUERY_CHARS,
) -> ParsedCompletion:
    """Parse one completion; never raises on ``text`` (bad limits raise ``ValueError``).

    >>> p = parse_completion("<think>likes tennis</think><queries>a | b | c</queries>")
    >>> p.format_ok, p.queries, p.reasoning
    (True, ('a', 'b', 'c'), 'likes tennis')
    >>> parse_completion("<queries>a | a</queries> trailing").problems
    ('missing_think', 'too_few_queries', 'duplicate_query')
    """
    _check_limits(min_queries, max_queries, max_query_words, max_query_chars)
    decoded = _as_text(text)
    if decoded is None:
        return ParsedCompletion((), False, "", ("not_text",))
    problems = _structure_problems(decoded)
    body = _block(decoded, QUERIES_OPEN, QUERIES_CLOSE)
    queries: tuple[str, ...] = ()
    if body is not None:
        n_parts, raw_parts = _split_queries(body)
        problems += _query_problems(
            n_parts, raw_parts, min_queries, max_queries, max_query_words, max_query_chars
        )
        queries = _distinct_queries(raw_parts, max_query_chars)
    reasoning = (_block(decoded, THINK_OPEN, THINK_CLOSE) or "").strip()
    return ParsedCompletion(queries, not problems, reasoning, tuple(problems))


def render_completion(queries: Iterable[str], reasoning: str = "") -> str:
    """Write ``queries`` (and ``reasoning``) in the format; inverse of the parser.

    Raises ``ValueError`` if a query contains ``|``, ``<`` or ``>``, or the reasoning
    contains one of the four tags, since the result could not be parsed back.

    >>> render_completion(["a", "b", "c"], "why")
    '<think>why</think><queries>a | b | c</queries>'
    """
    queries = list(queries)
    for query in queries:
        if not isinstance(query, str) or any(ch in query for ch in SEPARATOR + TAG_CHARS):
            raise ValueError(f"query cannot be rendered (must be a str without '|<>'): {query!r}")
    if any(tag in reasoning for tag in TAGS):
        raise ValueError("reasoning must not contain <think>, </think>, <queries>, </queries>")
    body = f" {SEPARATOR} ".join(queries)
    return f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{QUERIES_OPEN}{body}{QUERIES_CLOSE}"
