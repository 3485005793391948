"""Tests for newsstudy.fusion: hand cases and hypothesis invariants."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsstudy.fusion import FUSION, reciprocal_rank_fusion, round_robin

FAST = settings(max_examples=200, deadline=None)
result_lists = st.lists(st.lists(st.integers(0, 40), max_size=15), max_size=8)
fusers = st.sampled_from(sorted(FUSION))


def test_round_robin_hand_case():
    assert round_robin([[1, 2, 3], [4, 1, 5], [6]]) == [1, 4, 6, 2, 3, 5]
    assert round_robin([[1, 2, 3], [4, 1, 5], [6]], k=3) == [1, 4, 6]
    assert round_robin([["a", "a", "b"], ["b", "c"]]) == ["a", "b", "c"]


def test_rrf_hand_case():
    # 1: 1/61; 2: 2/62; 3: 1/63 + 1/61 (> 2/62); 4: 1/63
    assert reciprocal_rank_fusion([[1, 2, 3], [3, 2, 4]]) == [3, 2, 1, 4]
    # c = 0: 1 -> 1 + 1/3, 2 -> 1/2 + 1/2, 3 -> 1/3 + 1
    assert reciprocal_rank_fusion([[1, 2, 3], [3, 2, 1]], c=0) == [1, 3, 2]


def test_rrf_ties_break_by_round_robin_order():
    assert reciprocal_rank_fusion([[1, 2], [3, 4]]) == [1, 3, 2, 4]
    assert reciprocal_rank_fusion([[1, 2], [2, 1]]) == [1, 2]
    assert reciprocal_rank_fusion([[2, 1], [1, 2]]) == [2, 1]


def test_rrf_counts_repeat_within_list_once():
    assert reciprocal_rank_fusion([[1, 1, 1], [2, 3]]) == [1, 2, 3]


@pytest.mark.parametrize("name", sorted(FUSION))
def test_empty_inputs(name):
    assert FUSION[name]([]) == []
    assert FUSION[name]([[], []]) == []
    assert FUSION[name]([[]], k=5) == []


@pytest.mark.parametrize("name", sorted(FUSION))
@pytest.mark.parametrize("bad_k", [0, -2, 2.5, "3", True])
def test_bad_k(name, bad_k):
    with pytest.raises(ValueError, match="k must be"):
        FUSION[name]([[1]], k=bad_k)


@pytest.mark.parametrize("bad_c", [-1, float("inf"), float("nan"), "60"])
def test_bad_c(bad_c):
    with pytest.raises(ValueError, match="c must be"):
        reciprocal_rank_fusion([[1]], c=bad_c)


@FAST
@given(lists=result_lists, name=fusers)
def test_no_duplicates_and_every_id_appears(lists, name):
    fused = FUSION[name](lists)
    assert len(fused) == len(set(fused))
    assert set(fused) == {item for ids in lists for item in ids}


@FAST
@given(lists=result_lists, name=fusers, k=st.integers(1, 30))
def test_k_is_a_prefix(lists, name, k):
    assert FUSION[name](lists, k=k) == FUSION[name](lists)[:k]


@FAST
@given(lists=result_lists, name=fusers)
def test_deterministic_and_input_untouched(lists, name):
    snapshot = [list(ids) for ids in lists]
    assert FUSION[name](lists) == FUSION[name]([list(ids) for ids in lists])
    assert lists == snapshot


@FAST
@given(lists=result_lists)
def test_round_robin_top_slots_are_first_ranks(lists):
    firsts = list(dict.fromkeys(ids[0] for ids in lists if ids))
    assert round_robin(lists)[: len(firsts)] == firsts


@FAST
@given(ids=st.lists(st.integers(0, 40), unique=True, max_size=20), name=fusers)
def test_single_list_is_unchanged(ids, name):
    assert FUSION[name]([ids]) == ids


@FAST
@given(lists=result_lists)
def test_rrf_scores_are_non_increasing(lists):
    fused = reciprocal_rank_fusion(lists)
    deduped = [list(dict.fromkeys(ids)) for ids in lists]

    def score(item):
        return sum(1 / (60 + ids.index(item) + 1) for ids in deduped if item in ids)

    scores = [score(item) for item in fused]
    assert all(a >= b - 1e-12 for a, b in zip(scores, scores[1:], strict=False))


def test_doctests():
    from newsstudy import fusion

    result = doctest.testmod(fusion, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
