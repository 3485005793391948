"""Tests for newsstudy.output_format: the parser never raises and finds every problem."""

from __future__ import annotations

import dataclasses
import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsstudy.output_format import (
    FORMAT_SPEC,
    MAX_EXTRACTED_QUERIES,
    PROBLEMS,
    ParsedCompletion,
    normalize_query,
    parse_completion,
    render_completion,
)

FAST = settings(max_examples=200, deadline=None)
VALID = "<think>likes tennis and EU politics</think><queries>a b | c d | e f</queries>"


def _check_invariants(parsed: ParsedCompletion) -> None:
    """What holds for every parse, whatever the input."""
    assert isinstance(parsed, ParsedCompletion)
    assert parsed.format_ok == (not parsed.problems)
    assert set(parsed.problems) <= set(PROBLEMS)
    assert len(parsed.problems) == len(set(parsed.problems))
    assert len(parsed.queries) <= MAX_EXTRACTED_QUERIES
    keys = [q.casefold() for q in parsed.queries]
    assert len(keys) == len(set(keys))
    for query in parsed.queries:
        assert query and query == query.strip() and len(query) <= 200
        assert "<" not in query and ">" not in query and "|" not in query
        assert all(ch.isprintable() or ch == " " for ch in query if ord(ch) < 0xA0)


def _parse(text: object, **kwargs) -> ParsedCompletion:
    parsed = parse_completion(text, **kwargs)
    _check_invariants(parsed)
    return parsed


# --- never raises ------------------------------------------------------------------


@FAST
@given(st.text())
def test_never_raises_on_text(text):
    _parse(text)


@FAST
@given(st.binary())
def test_never_raises_on_binary_and_decoded_binary(data):
    _parse(data)
    _parse(data.decode("utf-8", errors="replace"))
    _parse(data.decode("latin-1"))


@FAST
@given(
    st.lists(
        st.sampled_from(["<think>", "</think>", "<queries>", "</queries>", "|", " ", "x", "\x00"])
        | st.text(max_size=5),
        max_size=30,
    )
)
def test_never_raises_on_tag_soup(pieces):
    _parse("".join(pieces))


@pytest.mark.parametrize("value", [None, 42, 3.5, ["<think>"], {"a": 1}, object(), b"\xff\xfe"])
def test_never_raises_on_non_strings(value):
    parsed = _parse(value)
    assert not parsed.format_ok


def test_bytes_are_decoded():
    assert _parse(VALID.encode()).format_ok


def test_huge_inputs_are_bounded():
    one_mb = 1_000_000
    assert not _parse("x" * one_mb).format_ok
    parsed = _parse(
        "<think>" + "y" * one_mb + "</think><queries>" + "a b | " * 200_000 + "</queries>"
    )
    assert "too_many_queries" in parsed.problems
    long_query = _parse("<think></think><queries>" + "word " * 250_000 + "| b | c</queries>")
    assert "query_too_long" in long_query.problems and len(long_query.queries[0]) <= 200
    pipes = _parse("<think>t</think><queries>" + "|" * one_mb + "</queries>")
    assert pipes.queries == () and "empty_query" in pipes.problems


def test_control_characters_are_dropped():
    text = (
        "<think>r</think><queries>bre\x00xit\x07 talks | a\tb\nc | \u200bzero\x1b width</queries>"
    )
    parsed = _parse(text)
    assert parsed.format_ok
    assert parsed.queries == ("brexit talks", "a b c", "zero width")


@FAST
@given(st.lists(st.text(max_size=20), min_size=1, max_size=12))
def test_arbitrary_query_text_is_normalised(parts):
    _parse("<think>t</think><queries>" + "|".join(parts) + "</queries>")


def test_a_thousand_queries():
    queries = [f"query number {i}" for i in range(1000)]
    parsed = _parse(render_completion(queries, "many"))
    assert "too_many_queries" in parsed.problems
    assert parsed.queries == tuple(queries[:MAX_EXTRACTED_QUERIES])


def test_repeated_query():
    parsed = _parse(render_completion(["Same Query"] * 500, "r"))
    assert {"duplicate_query", "too_many_queries"} <= set(parsed.problems)
    assert parsed.queries == ("Same Query",)


# --- round trip ----------------------------------------------------------------------

words = st.text(
    alphabet=st.characters(categories=("L", "N"), exclude_characters="<>|"), min_size=1, max_size=8
)
query = st.lists(words, min_size=1, max_size=12).map(" ".join)
reasoning = st.text(alphabet=st.characters(exclude_characters="<>"), max_size=200)


@FAST
@given(
    queries=st.lists(query, min_size=3, max_size=8, unique_by=str.casefold).filter(
        lambda qs: len({q.casefold() for q in qs}) == len(qs)
    ),
    reasoning=reasoning,
)
def test_render_then_parse_round_trips(queries, reasoning):
    parsed = _parse(render_completion(queries, reasoning))
    assert parsed.format_ok, parsed.problems
    assert parsed.queries == tuple(queries)
    assert parsed.reasoning == reasoning.strip()


def test_valid_example_and_whitespace_around_blocks():
    spaced = VALID.replace("</think>", "</think>\n\n")
    parsed = _parse("\n  " + spaced + "  \n")
    assert parsed.format_ok
    assert parsed.queries == ("a b", "c d", "e f")
    assert parsed.reasoning == "likes tennis and EU politics"


def test_parsed_completion_is_frozen():
    parsed = _parse(VALID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.queries = ()  # type: ignore[misc]


def test_render_refuses_unparseable_input():
    with pytest.raises(ValueError):
        render_completion(["a | b", "c", "d"])
    with pytest.raises(ValueError):
        render_completion(["<b>", "c", "d"])
    with pytest.raises(ValueError):
        render_completion(["a", "b", "c"], reasoning="</think>")


def test_format_spec_mentions_the_tags():
    for tag in ("<think>", "</think>", "<queries>", "</queries>"):
        assert tag in FORMAT_SPEC
    assert _parse(FORMAT_SPEC[FORMAT_SPEC.index("<think>The") :]).format_ok


# --- each problem is detected ----------------------------------------------------------

PROBLEM_CASES = {
    "missing_think": "<queries>a | b | c</queries>",
    "multiple_think": "<think>x</think><think>y</think><queries>a | b | c</queries>",
    "missing_queries": "<think>x</think>",
    "multiple_queries": "<think>x</think><queries>a | b | c</queries><queries>d</queries>",
    "wrong_order": "<queries>a | b | c</queries><think>x</think>",
    "text_outside_tags": "Sure! <think>x</think><queries>a | b | c</queries>",
    "too_few_queries": "<think>x</think><queries>a | b</queries>",
    "too_many_queries": "<think>x</think><queries>" + " | ".join("abcdefghi") + "</queries>",
    "empty_query": "<think>x</think><queries>a | | b | c</queries>",
    "query_too_long": "<think>x</think><queries>" + "w " * 13 + "| b | c</queries>",
    "duplicate_query": "<think>x</think><queries>Brexit | brexit | c</queries>",
    "tag_in_query": "<think>x</think><queries>a <b> | b | c</queries>",
}


def test_every_problem_code_has_a_case():
    assert set(PROBLEM_CASES) | {"not_text"} == set(PROBLEMS)


@pytest.mark.parametrize(("problem", "text"), sorted(PROBLEM_CASES.items()))
def test_each_problem_detected(problem, text):
    parsed = _parse(text)
    assert problem in parsed.problems
    assert not parsed.format_ok


def test_best_effort_extraction_when_format_fails():
    assert _parse("chatter <queries>a | b | a | </queries>").queries == ("a", "b")
    assert _parse("<think>x</think> no block").queries == ()
    assert _parse("<think>x</think><queries>a | b | c").queries == ()  # unclosed block
    assert _parse("<queries>a | b | c</queries><think>x</think>").queries == ("a", "b", "c")


def test_outside_text_variants():
    for text in (
        "<think>x</think> between <queries>a | b | c</queries>",
        "<think>x</think><queries>a | b | c</queries> after",
    ):
        assert _parse(text).problems == ("text_outside_tags",)


def test_limits_are_parameters():
    text = "<think>x</think><queries>one two three | b</queries>"
    assert _parse(text, min_queries=2, max_query_words=3).format_ok
    assert "query_too_long" in _parse(text, min_queries=2, max_query_words=2).problems
    assert _parse(text, min_queries=1, max_queries=1).problems == ("too_many_queries",)
    assert _parse(text, min_queries=2, max_query_chars=5).queries == ("one t", "b")
    with pytest.raises(ValueError):
        parse_completion(text, min_queries=5, max_queries=3)


def test_normalize_query():
    assert normalize_query("  a\u3000 b\r\n c  ") == "a b c"
    assert normalize_query("x" * 300) == "x" * 200
    assert normalize_query("ab cd", max_chars=3) == "ab"
    assert normalize_query("\ud800lone surrogate") == "lone surrogate"


def test_doctests():
    from newsstudy import output_format

    result = doctest.testmod(output_format, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
