"""The teacher's new pieces: pointer expansion, the digest, the duplicate-query guard, the
reward-validity and imitation measures, and the teacher's gates.

Hand-made inputs with hand-computed answers where possible; the smoke world (and a
randomly initialised "xs" model on a tiny word-level tokenizer) where a world is needed.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from newsstudy import gates
from newsstudy.evaluation import paired_difference
from newsstudy.output_format import MAX_QUERY_WORDS, normalize_query, parse_completion
from newsstudy.policy import decoding, generate, ladder, prompts
from newsstudy.policy import tokenizer as tok_mod
from newsstudy.teacher import imitation, reward_validity
from newsstudy.world import strategies

FAST = settings(max_examples=200, deadline=None)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world(smoke_world):
    return smoke_world


@pytest.fixture(scope="module")
def users(world) -> list[int]:
    return [int(u) for u in world.users["user_id"].to_numpy()[:64]]


@pytest.fixture(scope="module")
def prompt_map(world, users) -> dict[int, str]:
    return prompts.build_prompts(world, users)


def _key(text: str) -> str:
    return normalize_query(str(text).replace("|", " "), max_chars=None).casefold()


def _events(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "user_id", "day", "domain", "text"])


# ------------------------------------------------------------------- expand_pointers

PROMPT = ("<bos>signals:\n"
          "<s1> search: alpha beta\n"
          "<s2> news 3x: Gamma | delta\n"
          "<s3> browse: epsilon\n"
          "write news search queries:\n")

_pieces = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["<s1>", "<s2>", "<s64>", "<s0>", "<s999>", "<s1000>", "<s", "<s1",
                     "|", "<queries>", "</queries>", "<think>", "\n", "<s3> news: x\n"]),
)
_texts = st.lists(_pieces, max_size=12).map("".join)


@FAST
@given(completion=_texts, prompt=st.one_of(_texts, st.just(PROMPT), st.text()))
def test_expand_pointers_never_raises_on_text(completion, prompt):
    out = prompts.expand_pointers(completion, prompt)
    assert isinstance(out, str)
    lines = prompts.pointed_lines(prompt)
    assert all(isinstance(n, int) and isinstance(t, str) for n, t in lines.items())
    if "<s" not in completion:
        assert out == completion
    if prompt == PROMPT and "<" not in completion.replace("<s1>", ""):
        assert out == completion.replace("<s1>", "alpha beta")


@FAST
@given(completion=st.one_of(st.none(), st.integers(), st.binary(), st.floats(),
                            st.lists(st.text(max_size=3))),
       prompt=st.one_of(st.none(), st.integers(), st.binary(), st.text()))
def test_expand_pointers_never_raises_on_non_text(completion, prompt):
    prompts.expand_pointers(completion, prompt)
    prompts.pointed_lines(prompt)


def test_expand_pointers_maps_pointers_to_line_texts():
    assert prompts.pointed_lines(PROMPT) == {1: "alpha beta", 2: "Gamma | delta", 3: "epsilon"}
    completion = "<think>r</think><queries><s1> | <s2> | x <s3> y | <s9> | <s0></queries>"
    out = prompts.expand_pointers(completion, PROMPT)
    assert out == ("<think>r</think><queries>alpha beta | Gamma   delta | x epsilon y |  | "
                   "</queries>")
    assert parse_completion(out).queries == ("alpha beta", "Gamma delta", "x epsilon y")
    assert prompts.expand_pointers("no pointers", PROMPT) == "no pointers"
    assert prompts.expand_pointers("<s1>", "") == ""
    # the first line numbered N wins; lines not in the digest form are ignored
    assert prompts.pointed_lines("<s1> news: a\n<s1> news: b\n<s2> News: c\n<s3>search: d") \
        == {1: "a"}


def test_expanded_copy_demonstration_is_the_copy_strategy(world, users, prompt_map):
    ctx = prompts.surface_context(world, n_queries=5)
    wide = prompts.surface_context(world, n_queries=16)
    demos = prompts.surface_demonstrations(ctx, users)
    clean = world.clean_events()
    for user in users:
        expanded = parse_completion(prompts.expand_pointers(demos[user], prompt_map[user]))
        got = [q.casefold() for q in expanded.queries]
        # copy's recent distinct signals, distinct case-insensitively, cut to 12 words
        copied = parse_completion(strategies.copy(wide, user)).queries
        expected = list(dict.fromkeys(" ".join(q.split()[:12]).casefold() for q in copied))[:5]
        assert got == expected
        # the same from the raw events
        mine = clean[clean["user_id"] == user].sort_values(["day", "event_id"])
        recent = list(dict.fromkeys(_key(t) for t in mine["text"][::-1]))[:5]
        assert got == [" ".join(t.split()[:12]) for t in recent]


def test_expanded_demonstrations_are_well_formed(world, users, prompt_map):
    ctx = prompts.surface_context(world, n_queries=5)
    demos = prompts.surface_demonstrations(ctx, users, per_user=4, pool=10)
    clean = world.clean_events()
    checked = 0
    for user in users:
        distinct = {_key(t) for t in clean.loc[clean["user_id"] == user, "text"]}
        for demo in demos[user]:
            parsed = parse_completion(prompts.expand_pointers(demo, prompt_map[user]))
            if len(distinct) >= 3:
                assert parsed.format_ok, (user, demo, parsed.problems)
                assert len(parsed.queries) == min(5, len(distinct))
                checked += 1
            else:
                assert set(parsed.problems) <= {"too_few_queries"}
    assert checked >= 4 * 50


# ---------------------------------------------------------------------------- digest

HAND = _events([
    (5, 1, 3, "news", "Brexit talks"),
    (0, 1, 0, "search", "Trump order"),
    (1, 1, 1, "news", "Brexit   talks"),
    (2, 1, 2, "browse", "trump ORDER"),
    (3, 1, 2, "search", "a|b"),
    (4, 1, 3, "search", "weather <b>"),
    (6, 1, 3, "browse", "<>"),  # normalises to nothing: no signal
    (7, 1, 1, "news", "A | B"),
])


def test_digest_counts_repeats_and_orders_by_last_occurrence():
    digest = prompts.digest(HAND)
    assert digest == [  # by last occurrence (day, then event id); latest text and domain
        prompts.Signal("Brexit talks", "news", 2, 3),
        prompts.Signal("weather b", "search", 1, 3),
        prompts.Signal("a|b", "search", 2, 2),
        prompts.Signal("trump ORDER", "browse", 2, 2),
    ]
    assert prompts.digest(HAND, max_signals=2) == digest[:2]
    assert prompts.signal_lines(HAND) == [
        "<s1> news 2x: Brexit talks", "<s2> search: weather b", "<s3> search 2x: a|b",
        "<s4> browse 2x: trump ORDER"]
    assert prompts.digest(HAND.iloc[:0]) == []
    with pytest.raises(ValueError):
        prompts.digest(HAND, max_signals=0)


def test_digest_events_returns_the_occurrences_of_the_top_signals():
    other = _events([(10, 2, 0, "news", "weather b"), (11, 2, 1, "news", "solo")])
    fake = SimpleNamespace(clean_events=lambda: pd.concat([HAND, other], ignore_index=True))
    rows = prompts.digest_events(fake, max_signals=2)
    # user 1: "weather b" (id 4) and "Brexit talks" (ids 5, 1); user 2: both of its events
    assert sorted(rows["event_id"]) == [1, 4, 5, 10, 11]
    rows = prompts.digest_events(fake, max_signals=3)
    assert sorted(rows["event_id"]) == [1, 3, 4, 5, 7, 10, 11]


def test_digest_events_match_every_users_digest(world):
    clean = world.clean_events()
    rows = prompts.digest_events(world, max_signals=8)
    assert set(rows.index) <= set(clean.index)
    for user, mine in clean.groupby("user_id"):
        digest = prompts.digest(mine, 8)
        top = {_key(s.text) for s in digest}
        expected = mine[[_key(t) in top for t in mine["text"]]]
        got = rows[rows["user_id"] == user]
        assert sorted(got.index) == sorted(expected.index)
        assert len(got) == sum(s.count for s in digest)


# ---------------------------------------------------------------------------- guard

@pytest.fixture(scope="module")
def tiny_tokenizer():
    texts = ["alpha beta gamma delta", "<think>recent: news</think><queries>alpha | beta</queries>",
             "signals: <s1> news: alpha beta <s2> search 2x: gamma delta alpha "
             "write news search queries:"]
    return tok_mod.train_tokenizer(texts * 3, vocab_size=100, kind="word")


# a prompt naming two lines: <s1> has 2 words, <s2> 3 (the footer is not part of a line)
GUARD_PROMPT = ("<bos> signals: <s1> news: alpha beta <s2> search 2x: gamma delta alpha "
          "write news search queries:")
E = {"<eos>"}
OTHER_TAGS = {"<think>", "</think>", "<queries>"}
ABSENT = {f"<s{i}>" for i in range(3, 65)}  # pointers to lines GUARD_PROMPT lacks
# tokens no query may hold: special ones and those with tag or separator characters
NOT_IN_QUERY = {"<pad>", "<bos>", "<unk>", "<", ">", "</", "><"}


def _ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def _guard_out(tok, prompt: str, generated: str, budget: int | None = None):
    head, tail = _ids(tok, prompt), _ids(tok, generated)
    max_new = None if budget is None else len(tail) + budget
    guard = decoding.DuplicateQueryGuard(tok, len(head), max_new_tokens=max_new)
    scores = torch.randn(1, len(tok), generator=torch.Generator().manual_seed(0))
    return scores, guard(torch.tensor([head + tail]), scores.clone())


def _blocked(tok, prompt: str, generated: str) -> set[str]:
    scores, out = _guard_out(tok, prompt, generated)
    finite = torch.isfinite(out[0])
    assert torch.equal(out[0][finite], scores[0][finite])  # other tokens untouched
    return set(tok.convert_ids_to_tokens(torch.where(~finite)[0].tolist()))


def _allowed(tok, prompt: str, generated: str, budget: int | None = None) -> list[str]:
    _, out = _guard_out(tok, prompt, generated, budget)
    return tok.convert_ids_to_tokens(torch.where(torch.isfinite(out[0]))[0].tolist())


def test_guard_rules_on_hand_made_ids(tiny_tokenizer):
    tok = tiny_tokenizer
    p = GUARD_PROMPT
    assert len(_ids(tok, "<queries> <s1> | alpha beta")) == 5
    inside = E | OTHER_TAGS | ABSENT | NOT_IN_QUERY  # always blocked inside an open block
    # a used pointer; then | and </queries> after an empty query
    assert _blocked(tok, p, "<think> x </think> <queries> <s1> |") == {"<s1>", "|", "</queries>"} | inside
    # two queries so far: the block cannot close yet
    assert _blocked(tok, p, "<queries> <s1> | <s2> alpha") == {"<s1>", "<s2>", "</queries>"} | inside
    # right after <queries>: nothing to close
    assert _blocked(tok, p, "<queries>") == {"|", "</queries>"} | inside
    # a query equal token-for-token to an earlier one cannot be closed
    assert _blocked(tok, p, "<queries> alpha beta | alpha beta") == {"|", "</queries>"} | inside
    assert _blocked(tok, p, "<queries> alpha beta | gamma | alpha beta") == {"|", "</queries>"} | inside
    assert _blocked(tok, p, "<queries> alpha beta | alpha") == {"</queries>"} | inside
    assert _blocked(tok, p, "<queries> alpha | beta | gamma") == inside
    # only generated tokens count: the prompt's <queries> and pointers do not
    assert _blocked(tok, "<bos> <queries> <s1> | ", "<think> alpha") == E | {
        "<think>", "<queries>", "</queries>"}
    assert _blocked(tok, p, "<queries> <s2>") == {"<s2>", "</queries>"} | inside


def test_guard_applies_the_whole_grammar_outside_the_list(tiny_tokenizer):
    tok = tiny_tokenizer
    p = GUARD_PROMPT
    assert _allowed(tok, p, "") == ["<think>"]  # a completion opens with <think>
    # inside <think>: anything but another tag or the end
    assert _blocked(tok, p, "<think> alpha <s1>") == {"<think>", "<queries>", "</queries>"} | E
    assert _allowed(tok, p, "<think> alpha </think>") == ["<queries>"]  # the list follows
    done = "<think> a </think> <queries> alpha | beta | gamma </queries>"
    assert _allowed(tok, p, done) == ["<eos>"]  # nothing after the list
    # a finished row (eos written; padding follows) is left alone
    assert _blocked(tok, p, done + " <eos>") == set()


def test_guard_keeps_the_block_open_until_it_may_close(tiny_tokenizer):
    tok = tiny_tokenizer
    p = GUARD_PROMPT
    inside = E | OTHER_TAGS | ABSENT | NOT_IN_QUERY
    # fewer than MIN_QUERIES queries: the block cannot close yet, a separator can come
    assert _blocked(tok, p, "<queries> alpha | beta") == {"</queries>"} | inside
    # MAX_QUERIES queries written: no separator, only the close
    eight = " | ".join(["alpha", "beta", "gamma", "delta", "alpha beta", "beta alpha",
                        "gamma delta", "delta gamma"])
    assert _blocked(tok, p, f"<queries> {eight}") == {"|"} | inside


def test_guard_limits_a_query_to_max_query_words(tiny_tokenizer):
    tok = tiny_tokenizer
    p = GUARD_PROMPT
    words = lambda n: " ".join(["alpha", "beta", "gamma", "delta"] * 3)  # noqa: E731
    assert MAX_QUERY_WORDS == 12  # the word counts below are worked out for this limit
    # 10 words: <s1> (2 words) still fits, <s2> (3 words) does not
    ten = " ".join(words(12).split()[:10])
    blocked = _blocked(tok, p, f"<queries> {ten}")
    assert "<s2>" in blocked and "<s1>" not in blocked and "alpha" not in blocked
    # 12 words: only the query's close may follow
    assert _allowed(tok, p, f"<queries> {words(12)}") == ["|"]  # first query: no close yet
    assert set(_allowed(tok, p, f"<queries> a | b | {words(12)}")) == {"|", "</queries>"}
    # a pointer counts the words of its line: <s2> + 9 words = 12
    nine = " ".join(words(12).split()[:9])
    assert set(_allowed(tok, p, f"<queries> a | b | <s2> {nine}")) == {"|", "</queries>"}


def test_guard_pointer_words_read_the_prompt_lines(tiny_tokenizer):
    tok = tiny_tokenizer
    head = _ids(tok, GUARD_PROMPT)
    guard = decoding.DuplicateQueryGuard(tok, len(head))
    lines = guard.pointer_words(0, torch.tensor([head]))
    assert {tok.convert_ids_to_tokens(k): v for k, v in lines.items()} == {"<s1>": 2, "<s2>": 3}


def test_guard_closes_the_list_as_its_budget_runs_out(tiny_tokenizer):
    tok = tiny_tokenizer
    p = GUARD_PROMPT
    three = "<think> a </think> <queries> alpha | beta | gamma"
    assert _allowed(tok, p, three, budget=1) == ["</queries>"]
    assert len(_allowed(tok, p, three, budget=2)) > 1
    # two queries and three tokens left: a separator now, so a third query still fits
    assert _allowed(tok, p, "<queries> alpha | beta", budget=3) == ["|"]
    assert len(_allowed(tok, p, "<queries> alpha | beta", budget=4)) > 1
    # the reasoning closes while a shortest list still fits: </think> <queries> a | b | c </queries>
    assert _allowed(tok, p, "<think> alpha", budget=8) == ["</think>"]
    assert len(_allowed(tok, p, "<think> alpha", budget=9)) > 1


def test_guard_leaves_something_to_write(tiny_tokenizer):
    """A query that repeats an earlier one at the word limit: the close is let through."""
    tok = tiny_tokenizer
    twelve = " ".join(["alpha", "beta", "gamma", "delta"] * 3)
    assert _allowed(tok, GUARD_PROMPT, f"<queries> {twelve} | {twelve}") == ["</queries>"]


def test_guard_acts_row_by_row(tiny_tokenizer):
    tok = tiny_tokenizer
    rows = [_ids(tok, "<bos> <s1> a <s2> b <queries> <s1> | <s2>"),
            _ids(tok, "<bos> <s1> a <s2> b <think> alpha beta gamma"),
            _ids(tok, "<bos> <s1> a <s2> b <queries> gamma | gamma")]
    guard = decoding.DuplicateQueryGuard(tok, 5)
    out = guard(torch.tensor(rows), torch.zeros(3, len(tok)))
    blocked = [set(tok.convert_ids_to_tokens(torch.where(torch.isinf(row))[0].tolist()))
               for row in out]
    inside = E | OTHER_TAGS | ABSENT | NOT_IN_QUERY
    assert blocked == [{"<s1>", "<s2>", "</queries>"} | inside,
                       {"<think>", "<queries>", "</queries>"} | E,
                       {"|", "</queries>"} | inside]


def test_every_guarded_sample_of_a_random_policy_is_well_formed(world, users, tiny_tokenizer):
    """The grammar holds whatever the model wants: an untrained policy, 160 samples."""
    tok = tiny_tokenizer
    model = ladder.build_policy("xs", tok, seed=0)
    texts = list(prompts.build_prompts(world, users[:4], max_signals=8).values())
    out = generate.sample_completions(model, tok, texts, n_samples=40, temperature=1.0,
                                      max_new_tokens=48, batch_size=80, seed=1, progress=False)
    parsed = [parse_completion(c) for group in out for c in group]
    assert [p.problems for p in parsed if not p.format_ok] == []


def _blocks(completion: str) -> list[list[str]]:
    """Tokens of each <queries> block of a raw word-level completion, to its close."""
    out = []
    for part in completion.split("<queries>")[1:]:
        out.append(part.split("</queries>")[0].split())
    return out


def _repeats_a_pointer(completion: str) -> bool:
    for block in _blocks(completion):
        pointers = [t for t in block if re.fullmatch(r"<s\d+>", t)]
        if len(pointers) != len(set(pointers)):
            return True
    return False


def test_guarded_sampling_never_repeats_a_pointer(world, users, tiny_tokenizer):
    tok = tiny_tokenizer
    model = ladder.build_policy("xs", tok, seed=0)
    texts = list(prompts.build_prompts(world, users[:4], max_signals=8).values())
    kwargs = dict(n_samples=40, temperature=1.0, max_new_tokens=48, batch_size=80, seed=0,
                  progress=False, expand=False)
    free = [c for group in generate.sample_completions(model, tok, texts, guard=False, **kwargs)
            for c in group]
    assert sum(map(_repeats_a_pointer, free)) >= 5  # unguarded, the random model repeats
    out = [c for group in generate.sample_completions(model, tok, texts, guard=True, **kwargs)
           for c in group]
    assert sum("<queries>" in c for c in out) >= 20
    assert sum(len(b) for c in out for b in _blocks(c)) >= 100  # the guard had work to do
    assert not any(map(_repeats_a_pointer, out))
    assert not any(b[:1] == ["|"] for c in out for b in _blocks(c))
    # the guard is detached again afterwards
    assert "generate" not in vars(model)


def test_generate_wrappers_nest_and_detach_in_either_order(tiny_tokenizer):
    model = ladder.build_policy("xs", tiny_tokenizer, seed=0)
    for outer, inner in [(lambda: decoding.guarded(model, tiny_tokenizer),
                          lambda: generate.prompts_read_once(model)),
                         (lambda: generate.prompts_read_once(model),
                          lambda: decoding.guarded(model, tiny_tokenizer))]:
        with outer():
            wrapper = model.generate
            with inner():
                assert model.generate is not wrapper
                with inner():  # not wrapped twice
                    pass
                assert model.generate is not wrapper
            assert model.generate is wrapper  # the inner one restores the outer one
        assert "generate" not in vars(model)


def test_guarded_is_a_no_op_when_disabled(tiny_tokenizer):
    model = ladder.build_policy("xs", tiny_tokenizer, seed=0)
    with decoding.guarded(model, tiny_tokenizer, enabled=False) as same:
        assert same is model and "generate" not in vars(model)
    with decoding.guarded(model, tiny_tokenizer):
        wrapper = model.generate
        assert wrapper._duplicate_guard
        with decoding.guarded(model, tiny_tokenizer):  # not wrapped twice
            assert model.generate is wrapper
        assert model.generate is wrapper
    assert "generate" not in vars(model)
    served = decoding.Decoding(temperature=1.0, top_p=1.0, max_new_tokens=64,
                               duplicate_guard=True)
    assert served.as_dict() == {"temperature": 1.0, "top_p": 1.0, "max_new_tokens": 64,
                                "duplicate_guard": True, "guard_version": decoding.GUARD_VERSION}
    unguarded = decoding.Decoding(temperature=1.0, top_p=1.0, max_new_tokens=64,
                                  duplicate_guard=False)
    assert unguarded.as_dict()["guard_version"] == 0


# ---------------------------------------------------------------------- reward validity

def _validity_table() -> pd.DataFrame:
    groups = {  # user: (total, recall@10)
        1: ([0.1, 0.5, 0.9], [0.0, 0.2, 0.4]),          # rho 1
        2: ([0.3, 0.2, 0.1, 0.0], [0.1, 0.3, 0.2, 0.4]),  # rho -0.8
        3: ([0.5, 0.5, 0.5], [0.0, 0.3, 0.6]),          # constant reward: skipped
        4: ([0.2, 0.8, 0.4], [0.5, 0.5, 0.5]),          # constant recall: skipped
        5: ([1.0, 1.0, 0.0], [0.2, 0.6, 0.1]),          # tied ranks: rho sqrt(3)/2
    }
    rows = [{"user": u, "sample": j, "total": t, "align": -t, "recall@10": r}
            for u, (ts, rs) in groups.items() for j, (t, r) in enumerate(zip(ts, rs, strict=True))]
    return pd.DataFrame(rows)


def test_within_user_spearman_by_hand():
    table = _validity_table()
    rho = reward_validity.within_user_spearman(table, ["total", "align"]).set_index("reward")
    rhos = np.array([1.0, -0.8, math.sqrt(3) / 2])
    half = stats.t.ppf(0.975, 2) * rhos.std(ddof=1) / math.sqrt(3)
    assert rho.loc["total", "n_users"] == 3
    assert rho.loc["total", "spearman"] == pytest.approx(rhos.mean())
    assert rho.loc["total", "low"] == pytest.approx(rhos.mean() - half)
    assert rho.loc["total", "high"] == pytest.approx(rhos.mean() + half)
    assert rho.loc["align", "spearman"] == pytest.approx(-rhos.mean())
    one = reward_validity.within_user_spearman(table[table["user"] == 1], ["total"])
    assert one.loc[0, "spearman"] == pytest.approx(1.0) and math.isnan(one.loc[0, "low"])
    none = reward_validity.within_user_spearman(table[table["user"] == 3], ["total"])
    assert none.loc[0, "n_users"] == 0 and math.isnan(none.loc[0, "spearman"])


def test_best_pick_and_best_of_g_gain_by_hand():
    table = _validity_table()
    best = reward_validity.best_pick(table, "total")
    assert best.to_dict() == pytest.approx({1: 0.4, 2: 0.1, 3: 0.3, 4: 0.5, 5: 0.4})
    assert reward_validity.best_pick(table, "align").to_dict() == pytest.approx(
        {1: 0.0, 2: 0.4, 3: 0.3, 4: 0.5, 5: 0.1})
    gains = np.array([0.4 - 0.2, 0.1 - 0.25, 0.0, 0.0, 0.4 - 0.3])
    gain = reward_validity.best_of_g_gain(table, "total")
    half = stats.t.ppf(0.975, 4) * gains.std(ddof=1) / math.sqrt(5)
    assert gain.n == 5 and gain.diff == pytest.approx(gains.mean())
    assert (gain.low, gain.high) == pytest.approx((gains.mean() - half, gains.mean() + half))
    assert gain.mean_b == pytest.approx(np.mean([0.2, 0.25, 0.3, 0.5, 0.3]))


def test_validity_table_by_hand():
    table = reward_validity.validity_table(_validity_table(), ["total", "align"])
    assert list(table["reward"]) == ["total", "align"]
    row = table.set_index("reward").loc["total"]
    assert row["spearman"] == pytest.approx((1.0 - 0.8 + math.sqrt(3) / 2) / 3)
    assert row["users ranked"] == 3 and row["n users"] == 5
    assert row["best-of-G gain"] == pytest.approx(0.03)
    assert row["gain low"] < 0.03 < row["gain high"]
    assert table.set_index("reward").loc["align", "best-of-G gain"] == pytest.approx(
        np.mean([0.0 - 0.2, 0.4 - 0.25, 0.0, 0.0, 0.1 - 0.3]))


# -------------------------------------------------------------------------- imitation

def test_words_in_prompt_by_hand():
    prompt_1 = "<bos>signals:\n<s1> search: alpha beta gamma delta\nwrite news search queries:\n"
    completions = {
        1: "<think>x</think><queries>Alpha beta | gamma zeta | delta</queries>",  # 4 of 5
        2: "no queries at all",  # skipped
        3: "<queries>omega | alpha</queries>",  # no prompt: 0 of 2
    }
    assert imitation.words_in_prompt(completions, {1: prompt_1, 2: prompt_1}) == \
        pytest.approx((0.8 + 0.0) / 2)
    assert imitation.words_in_prompt({1: completions[1]}, {1: prompt_1}) == pytest.approx(0.8)
    assert math.isnan(imitation.words_in_prompt({2: completions[2]}, {2: prompt_1}))
    assert math.isnan(imitation.words_in_prompt({}, {}))


@pytest.mark.parametrize("text, repeats", [
    ("<think>x</think><queries>a | b | c</queries>", False),
    ("<queries>a | A | b</queries>", True),
    ("<queries>a b | a   B</queries>", True),
    ("<queries><s1> | <s2> | <s1>", True),  # unclosed block
    ("<queries>a |  | b</queries>", False),  # empty parts are not queries
    ("<queries>a | b</queries> a | a", False),  # after the block
    ("a | a", False),  # no block
    ("", False),
])
def test_repeats_a_query(text, repeats):
    assert imitation.repeats_a_query(text) is repeats


def test_well_formed_share():
    good, bad = "<think>x</think><queries>a | b | c</queries>", "<queries>a | a</queries>"
    assert imitation.well_formed({1: good, 2: bad, 3: good, 4: "junk"}) == 0.5
    assert imitation.well_formed({1: good}) == 1.0
    assert math.isnan(imitation.well_formed({}))


@pytest.mark.parametrize("max_steps, points, expected", [
    (10, 3, [3, 7, 10]),
    (10, 1, [10]),
    (3, 6, [1, 2, 3]),
    (100, 4, [25, 50, 75, 100]),
])
def test_imitation_curve_probes_at_evenly_spaced_steps(max_steps, points, expected):
    calls = []

    def probe(model):
        calls.append(model)
        return {"recall@10": 0.1 * len(calls)}

    curve = imitation.ImitationCurve(probe, points)
    state = SimpleNamespace(max_steps=max_steps, global_step=0)
    curve.on_train_begin(None, state, None)
    model = object()
    for step in range(1, max_steps + 1):
        state.global_step = step
        curve.on_step_end(None, state, None, model=model)
        curve.on_step_end(None, state, None, model=None)  # no model: no probe
    assert [row["step"] for row in curve.rows] == expected
    assert all(m is model for m in calls) and len(calls) == len(expected)
    assert curve.rows[0] == {"step": expected[0], "recall@10": pytest.approx(0.1)}


# ----------------------------------------------------------------------------- gates

def test_imitation_gate():
    demos = pd.Series([0.4, 0.4, 0.4, 10.0], index=[1, 2, 3, 4])  # user 4: no policy score
    passed = gates.imitation_gate(pd.Series([0.2, 0.4, 0.6], index=[1, 2, 3]), demos)
    assert passed.passes and passed.ratio == pytest.approx(1.0)
    assert passed.demonstrations == pytest.approx(0.4) and passed.paired.n == 3
    failed = gates.imitation_gate(pd.Series([0.3, 0.4, 0.35], index=[1, 2, 3]), demos)
    assert not failed.passes and failed.ratio == pytest.approx(0.875)
    assert gates.imitation_gate(pd.Series([0.3, 0.4, 0.35], index=[1, 2, 3]), demos,
                                bar=0.85).passes
    zero = gates.imitation_gate(pd.Series([0.1, 0.2], index=[1, 2]),
                                pd.Series([0.0, 0.0], index=[1, 2]))
    assert not zero.passes and math.isnan(zero.ratio)


def test_format_gate():
    assert gates.format_gate({"prompt-only": 0.96, "teacher": 1.0}).passes
    assert gates.format_gate({"prompt-only": 0.95, "teacher": 0.95}).passes  # at the bar
    assert not gates.format_gate({"prompt-only": 0.94, "teacher": 1.0}).passes
    assert not gates.format_gate({"prompt-only": float("nan")}).passes
    assert not gates.format_gate({}).passes  # no evidence: no pass
    assert gates.format_gate({"a": 0.5}, bar=0.5).model_dump() == {
        "shares": {"a": 0.5}, "bar": 0.5, "passes": True}
    assert set(gates.format_gate({"RL teacher": 1.0, "prompt-only": 1.0}).shares) == {
        "rl_teacher", "prompt_only"}  # keyed by results keys


def test_interval_gate():
    a = pd.Series([0.5, 0.6, 0.7, 0.8], index=[1, 2, 3, 4])
    above = gates.interval_gate(paired_difference(a, a - [0.4, 0.4, 0.5, 0.5]), "better")
    assert above.passes and above.what == "better"
    assert above.diff == pytest.approx(0.45) and above.low > 0 and above.n == 4
    mixed = gates.interval_gate(paired_difference(a, a - [0.4, -0.4, 0.1, -0.1]), "mixed")
    assert not mixed.passes and mixed.low < 0 < mixed.high
    below = gates.interval_gate(paired_difference(a, a + [0.4, 0.4, 0.5, 0.5]), "worse")
    assert not below.passes


def test_entropy_gate():
    flat = pd.DataFrame({"entropy": [1.0] * 5 + [1.05] * 5})  # +5%: within 10%
    rising = pd.DataFrame({"entropy": [1.0] * 8 + [1.2] * 2})  # last fifth +20%
    falling = pd.DataFrame({"entropy": np.linspace(2.0, 1.0, 10)})
    out = gates.entropy_gate({"seed 0": flat, "seed 1": falling})
    assert out.passes and out.runs["seed_0"].model_dump() == {"first": 1.0, "last": 1.05,
                                                       "passes": True}
    assert out.runs["seed_1"].first == pytest.approx((2.0 + 2.0 - 1 / 9) / 2)
    mixed = gates.entropy_gate({"seed 0": flat, "seed 1": rising})
    assert not mixed.passes and not mixed.runs["seed_1"].passes
    assert gates.entropy_gate({"r": rising}, tolerance=0.25).passes
    short = gates.entropy_gate({"r": pd.DataFrame({"entropy": [1.0, 5.0, 1.05]})})
    assert short.runs["r"].model_dump() == {"first": 1.0, "last": 1.05, "passes": True}  # fifth of 1
    # runs without an entropy curve are skipped; none left: no pass
    skipped = gates.entropy_gate({"a": pd.DataFrame({"loss": [1.0]}),
                                  "b": pd.DataFrame({"entropy": [np.nan, np.nan]}),
                                  "c": flat})
    assert set(skipped.runs) == {"c"} and skipped.passes
    assert not gates.entropy_gate({"a": pd.DataFrame({"loss": [1.0]})}).passes
    assert not gates.entropy_gate({}).passes


def test_guard_without_a_single_id_separator_never_blocks_the_close(tiny_tokenizer):
    """Tokenizers that split '|' (pretrained ones) cannot count queries: the list may close."""
    tok = tiny_tokenizer
    head, tail = _ids(tok, "<bos> alpha"), _ids(tok, "<queries> alpha beta")
    guard = decoding.DuplicateQueryGuard(tok, len(head), max_new_tokens=len(tail) + 1)
    guard.separator_id, guard.close_ids, guard.grammar = None, [guard.end_id], False
    out = guard(torch.tensor([head + tail]), torch.zeros(1, len(tok)))
    assert tok.convert_ids_to_tokens(torch.where(torch.isfinite(out[0]))[0].tolist()) == ["</queries>"]


def test_guard_carried_from_step_to_step_equals_a_fresh_parse(tiny_tokenizer):
    """generate calls one guard per step; reading only the new token must give what a
    guard parsing the whole prefix afresh gives, for any sequence of tokens."""
    tok = tiny_tokenizer
    head = _ids(tok, GUARD_PROMPT)
    alphabet = tok.convert_tokens_to_ids(["<think>", "</think>", "<queries>", "</queries>", "|",
                                          "<s1>", "<s2>", "<s5>", "alpha", "beta", "gamma",
                                          "<eos>", "<unk>"])
    rng = np.random.default_rng(0)
    for trial in range(30):
        rows = rng.choice(alphabet, size=(3, 24))
        budget = int(rng.integers(8, 30))
        carried = decoding.DuplicateQueryGuard(tok, len(head), max_new_tokens=budget)
        for step in range(rows.shape[1] + 1):
            ids = torch.tensor([head + list(r[:step]) for r in rows])
            scores = torch.randn(3, len(tok), generator=torch.Generator().manual_seed(step))
            fresh = decoding.DuplicateQueryGuard(tok, len(head), max_new_tokens=budget)
            assert torch.equal(carried(ids, scores.clone()), fresh(ids, scores.clone())), (
                trial, step)


def test_decoding_table_by_hand():
    from newsstudy.teacher import imitation

    demo_recall = pd.Series({1: 0.4, 2: 0.2})
    prompts_ = {1: "<s1> news: alpha beta", 2: "<s1> news: gamma delta"}
    lists = {"serving": {1: "<think>x</think><queries>alpha beta | zeta</queries>",
                         2: "<think>x</think><queries>gamma | gamma</queries>"},
             "greedy": {1: "no format",
                        2: "<think>x</think><queries>eta theta | iota | kappa lambda</queries>"}}
    recall = {"serving": [0.3, 0.1], "greedy": [0.0, 0.3]}

    def evaluate(users, label):
        frame = pd.DataFrame({"recall@10": recall[label]}, index=list(users))
        return frame, lists[label]

    table, outputs, first = imitation.decoding_table(
        evaluate, [1, 2], demo_recall, prompts_,
        {"serving (rollouts too)": {"label": "serving"}, "greedy": {"label": "greedy"}})
    assert list(table["decoding"]) == ["serving (rollouts too)", "greedy"]
    assert table["R@10"].tolist() == pytest.approx([0.2, 0.15])
    assert table["share of demonstrations' R@10"].tolist() == pytest.approx([0.2 / 0.3, 0.15 / 0.3])
    assert table["repeats a query"].tolist() == [0.5, 0.0]
    assert table["well-formed"].iloc[1] == 0.5
    assert first["recall@10"].tolist() == [0.3, 0.1] and set(outputs) == set(table["decoding"])


def test_parameters_of_ladder_and_unknown_models():
    from newsstudy import teacher
    from newsstudy.policy import ladder

    assert teacher.parameters_of("xs", 512) == ladder.parameter_count("xs", 512)
    assert teacher.parameters_of("no-such-model", 512) is None
