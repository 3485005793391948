"""The policy plumbing: tokenizer, ladder, prompts, generation, checkpoints, SFT.

Tiny models on the smoke world (built into a throwaway folder if the working tree has
none), so the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from newsstudy.output_format import TAGS, normalize_query, parse_completion
from newsstudy.policy import checkpoints, decoding, generate, ladder, prompts, sft
from newsstudy.policy import tokenizer as tok_mod

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world(smoke_world):
    return smoke_world


@pytest.fixture(scope="module")
def tokenizer(world):
    return tok_mod.train_tokenizer(tok_mod.world_corpus_texts(world, 5, 48, 0), vocab_size=4096)


@pytest.fixture(scope="module")
def users(world) -> list[int]:
    return [int(u) for u in world.users["user_id"].to_numpy()[:64]]


@pytest.fixture(scope="module")
def prompt_map(world, users) -> dict[int, str]:
    return prompts.build_prompts(world, users)


def expected_lines(events: pd.DataFrame, max_signals: int = 48) -> list[str]:
    """The digest lines, rebuilt with pandas: distinct signals (normalised, case-folded),
    most recent first, each with the domain and text of its last occurrence, a count for
    repeats and at most 12 words; before any ``max_chars`` cut."""
    ordered = events.sort_values(["day", "event_id"])
    frame = pd.DataFrame({
        "domain": ordered["domain"].astype(str).to_numpy(),
        "clean": [normalize_query(t, max_chars=None) for t in ordered["text"]]})
    frame["key"] = [normalize_query(t.replace("|", " "), max_chars=None).casefold()
                    for t in frame["clean"]]
    frame = frame[frame["key"] != ""]
    counts = frame["key"].value_counts()
    last = frame.drop_duplicates("key", keep="last").iloc[::-1].head(min(max_signals, 64))
    return [f"<s{n}> {domain}{f' {counts[key]}x' if counts[key] > 1 else ''}: "
            + " ".join(clean.split()[:12])
            for n, (domain, clean, key) in enumerate(
                zip(last["domain"], last["clean"], last["key"], strict=True), start=1)]


def body_lines(prompt: str) -> list[str]:
    return prompt.split("\n")[1:-2]


# ------------------------------------------------------------------------- tokenizer

@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=80))
def test_tokenizer_round_trips_any_unicode(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text


def test_tokenizer_round_trips_fixed_strings(tokenizer):
    for text in ["héllo 世界 🙂\n\tTab", "Ünïcödé – “quotes” …", "\u200b\x00\x7f", "  x  "]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_format_markers_are_single_tokens_kept_when_skipping_specials(tokenizer):
    for tag in TAGS:
        assert len(tokenizer(tag, add_special_tokens=False)["input_ids"]) == 1
        assert len(tokenizer(f"x{tag}y", add_special_tokens=False)["input_ids"]) == 3
    text = "<think>recent: search</think><queries>a | b | c</queries>"
    ids = tokenizer("<bos>" + text + "<eos><pad>", add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-2:] == [tokenizer.eos_token_id,
                                                            tokenizer.pad_token_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    assert len(tokenizer) <= 4096 and tokenizer.padding_side == "left"
    assert len({tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}) == 3


def test_tokenizer_save_load(tokenizer, tmp_path):
    tok_mod.save_tokenizer(tokenizer, tmp_path / "tok")
    again = tok_mod.load_tokenizer(tmp_path / "tok")
    text = "<bos>search: brexit<think>x</think><queries>a | b</queries><eos>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert again(text, add_special_tokens=False)["input_ids"] == ids
    assert again.decode(ids, skip_special_tokens=True) == tokenizer.decode(
        ids, skip_special_tokens=True)
    assert again.padding_side == "left" and again.eos_token == "<eos>"


# ---------------------------------------------------------------------------- ladder

def test_ladder_spans_thirty_fold():
    counts = [ladder.parameter_count(name, 4096) for name in ladder.LADDER]
    assert len(counts) >= 6
    assert counts == sorted(counts)
    assert counts[-1] / counts[0] >= 30


@pytest.mark.parametrize("name", ["xs", "s"])
def test_parameter_count_matches_instantiation(tokenizer, name):
    model = ladder.build_policy(name, tokenizer, seed=0)
    assert sum(p.numel() for p in model.parameters()) == ladder.parameter_count(
        name, len(tokenizer))
    assert model.config.tie_word_embeddings
    assert model.config.max_position_embeddings == ladder.MAX_POSITIONS
    assert model.config.eos_token_id == tokenizer.eos_token_id
    assert model.config.pad_token_id == tokenizer.pad_token_id


def test_build_policy_is_seeded(tokenizer):
    a, b = (ladder.build_policy("xs", tokenizer, seed=3) for _ in range(2))
    c = ladder.build_policy("xs", tokenizer, seed=4)
    wa, wb, wc = (m.model.embed_tokens.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_unknown_ladder_name_lists_sizes(tokenizer, tmp_path):
    with pytest.raises(ValueError, match="xs, s, m") as info:
        ladder.build_policy("tiny", tokenizer, seed=0)
    assert "'tiny'" in str(info.value)
    with pytest.raises(ValueError, match="ladder size"):
        ladder.parameter_count("tiny", 4096)
    with pytest.raises(ValueError, match=str(tmp_path / "missing")):
        ladder.build_policy(str(tmp_path / "missing"), tokenizer, seed=0)


# --------------------------------------------------------------------------- prompts

def test_prompts_use_only_kept_events(world, users, prompt_map):
    clean, dropped = world.clean_events(), world.events[~world.events["kept"]]
    for user in users:
        prompt = prompt_map[user]
        assert prompt.startswith("<bos>signals:\n")
        assert prompt.endswith("\nwrite news search queries:\n")
        lines = body_lines(prompt)
        mine = clean[clean["user_id"] == user]
        expected = expected_lines(mine)
        assert lines and lines == expected[:len(lines)]  # the most recent first
        assert len(lines) == len(expected)  # nothing dropped at the default bounds
        # line 1 is the user's latest kept event
        latest = mine.sort_values(["day", "event_id"]).iloc[-1]
        assert lines[0].split(": ", 1)[1] == " ".join(
            normalize_query(latest["text"], max_chars=None).split()[:12])
        own_kept = {normalize_query(t, max_chars=None).casefold() for t in mine["text"]}
        own_dropped = {normalize_query(t, max_chars=None).casefold()
                       for t in dropped.loc[dropped["user_id"] == user, "text"]} - own_kept
        assert not any(line.split(": ", 1)[1].casefold() in own_dropped for line in lines)


def test_prompt_lines_are_numbered_pointers_counted_and_distinct(world, users, prompt_map):
    for user in users:
        lines = body_lines(prompt_map[user])
        numbers = [int(re.match(r"<s(\d+)> ", line).group(1)) for line in lines]
        assert numbers == list(range(1, len(lines) + 1))
        texts = [line.split(": ", 1)[1] for line in lines]
        assert len({t.casefold() for t in texts}) == len(texts)
        assert all(1 <= len(t.split()) <= prompts.MAX_LINE_WORDS for t in texts)
        assert prompts.pointed_lines(prompt_map[user]) == dict(enumerate(texts, start=1))


def test_prompts_are_bounded_and_deterministic(world, users, prompt_map):
    clean = world.clean_events()
    small = prompts.build_prompts(world, users, max_signals=5, max_chars=120)
    for user in users:
        body = small[user].removeprefix("<bos>signals:\n").removesuffix(
            "write news search queries:\n")
        assert len(body) <= 120 and 1 <= body.count("\n") <= 5
        lines = body.splitlines()
        expected = expected_lines(clean[clean["user_id"] == user], max_signals=5)
        assert lines == expected[:len(lines)]  # the oldest lines are the ones dropped
        if len(lines) < len(expected):  # one more line would not have fit
            assert len(body) + len(expected[len(lines)]) + 1 > 120
    assert prompts.build_prompts(world, users) == prompt_map
    overhead = len("<bos>signals:\nwrite news search queries:\n")
    assert all(len(p) <= 4000 + overhead for p in prompt_map.values())
    # never more lines than pointers, however many are asked for
    counts = clean.groupby("user_id")["text"].nunique()
    many = [int(u) for u in counts[counts > 80].index[:3]]
    assert many, "the smoke world should have users with many distinct signals"
    for prompt in prompts.build_prompts(world, many, max_signals=200, max_chars=16000).values():
        assert len(body_lines(prompt)) == prompts.MAX_POINTERS


def test_prompts_never_read_latent_frames(world, users, prompt_map):
    blind = dataclasses.replace(world, event_labels=pd.DataFrame(), interests=pd.DataFrame(),
                                test_clicks=pd.DataFrame())
    assert prompts.build_prompts(blind, users) == prompt_map


def test_signal_lines_cut_one_long_line():
    events = pd.DataFrame({"day": [0, 1], "event_id": [0, 1], "domain": ["search", "news"],
                           "text": ["old", "x" * 50]})
    assert prompts.signal_lines(events, max_chars=20) == ["<s1> news: " + "x" * 8]
    assert prompts.signal_lines(events) == ["<s1> news: " + "x" * 50, "<s2> search: old"]
    assert prompts.signal_lines(events.iloc[:0]) == []
    words = " ".join(f"w{i}" for i in range(20))
    long = pd.DataFrame({"day": [0, 1], "event_id": [0, 1], "domain": ["browse", "browse"],
                         "text": [words, words.upper()]})
    assert prompts.signal_lines(long) == ["<s1> browse 2x: " + words.upper().rsplit(" ", 8)[0]]
    with pytest.raises(ValueError):
        prompts.signal_lines(events, max_signals=0)


def test_chat_prompts_use_the_chat_template(world, users):
    class MockTokenizer:
        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            assert tokenize is False and add_generation_prompt is True
            return "".join(f"[{m['role']}]{m['content']}" for m in messages) + "[assistant]"

    chat = prompts.build_prompts(world, users[:3], chat=True, tokenizer=MockTokenizer())
    for text in chat.values():
        assert text.startswith("[system]") and text.endswith("[assistant]")
        assert "[user]signals:\n" in text and "<bos>" not in text
    with pytest.raises(ValueError, match="tokenizer"):
        prompts.build_prompts(world, users[:1], chat=True)


def test_surface_demonstrations_copy_recent_signals(world, users, prompt_map):
    ctx = prompts.surface_context(world, n_queries=5)
    demos = prompts.surface_demonstrations(ctx, users)
    for user in users:
        lines = body_lines(prompt_map[user])
        k = min(5, len(lines))
        raw = parse_completion(demos[user])
        # the raw demonstration points at lines 1..k, most recent first
        assert demos[user].endswith(
            "<queries>" + " | ".join(f"<s{i}>" for i in range(1, k + 1)) + "</queries>")
        assert raw.reasoning.startswith("recent: ")
        domains = raw.reasoning.removeprefix("recent: ").split(", ")
        line_domains = [line.split(" ")[1].rstrip(":") for line in lines[:k]]
        assert domains == list(dict.fromkeys(line_domains))[:3]
        assert set(domains) <= {"search", "browse", "news"}
        # expanded, it is the copied lines' texts
        parsed = parse_completion(prompts.expand_pointers(demos[user], prompt_map[user]))
        assert not set(parsed.problems) - {"too_few_queries"}
        assert list(parsed.queries) == [normalize_query(line.split(": ", 1)[1].replace("|", " "))
                                        for line in lines[:k]]
    assert prompts.surface_demonstration(ctx, users[0]) == demos[users[0]]


def test_history_until_cuts_observable_history(world, users):
    early = prompts.history_until(world, 7)
    assert early.events["day"].max() < 7 and len(early.users) == len(world.users)
    clean, early_clean = world.clean_events(), early.clean_events()

    def shown(texts) -> set[str]:  # as a prompt line shows a text
        return {" ".join(normalize_query(t, max_chars=None).split()[:12]).casefold()
                for t in texts}

    for user, prompt in prompts.build_prompts(early, users).items():
        late_only = shown(clean.loc[(clean["user_id"] == user) & (clean["day"] >= 7), "text"])
        early_texts = shown(early_clean.loc[early_clean["user_id"] == user, "text"])
        assert not any(line.split(": ", 1)[1].casefold() in late_only - early_texts
                       for line in body_lines(prompt))
        assert body_lines(prompt) == expected_lines(
            early_clean[early_clean["user_id"] == user])


# -------------------------------------------------------------------------- generate

def test_generate_is_deterministic_and_shaped(tokenizer, users, prompt_map):
    model = ladder.build_policy("xs", tokenizer, seed=0)
    texts = [prompt_map[u] for u in users[:5]]
    kwargs = dict(n_samples=3, max_new_tokens=12, batch_size=4, progress=False)
    first = generate.sample_completions(model, tokenizer, texts, seed=1, **kwargs)
    assert len(first) == 5 and all(len(group) == 3 for group in first)
    assert generate.sample_completions(model, tokenizer, texts, seed=1, **kwargs) == first
    assert generate.sample_completions(model, tokenizer, texts, seed=2, **kwargs) != first
    greedy = generate.sample_completions(model, tokenizer, texts, greedy=True, **kwargs)
    assert all(len(set(group)) == 1 for group in greedy)
    again, counts = generate.sample_completions(model, tokenizer, texts, seed=1,
                                                return_counts=True, **kwargs)
    assert again == first and all(1 <= n <= 12 for group in counts for n in group)
    assert generate.count_generated_tokens(tokenizer, first) > 0


def test_generate_reads_each_prompt_once_with_the_same_samples(tokenizer, users, prompt_map,
                                                               monkeypatch):
    model = ladder.build_policy("xs", tokenizer, seed=0)
    texts = [prompt_map[u] for u in users[:5]]  # unequal lengths: left padding in a batch
    kwargs = dict(n_samples=3, max_new_tokens=12, batch_size=8, progress=False,
                  return_counts=True)
    read: list[tuple[int, int]] = []
    decoder = model.get_decoder()  # every read of tokens goes through it
    forward = decoder.forward

    def counting(*args, **kw):
        ids = kw.get("input_ids")
        if ids is not None and ids.shape[1] > 1:
            read.append(tuple(ids.shape))  # a read of prompts (decoding reads one column)
        return forward(*args, **kw)

    monkeypatch.setattr(decoder, "forward", counting)
    shared = generate.sample_completions(model, tokenizer, texts, seed=1, **kwargs)
    shared_greedy = generate.sample_completions(model, tokenizer, texts, greedy=True, **kwargs)
    # batches of 8 rows hold 3 distinct prompts (8 + 7 rows: 3 + 3 prompts, one split)
    assert [rows for rows, _ in read] == [3, 3, 3, 3]  # sampled, then greedy
    monkeypatch.setattr(generate, "shared_prompt_cache", lambda *a, **k: {})
    read.clear()
    whole = generate.sample_completions(model, tokenizer, texts, seed=1, **kwargs)
    assert [rows for rows, _ in read] == [8, 7]
    assert shared == whole
    assert shared_greedy == generate.sample_completions(model, tokenizer, texts, greedy=True,
                                                        **kwargs)


def test_generate_keeps_markers_and_drops_specials(tokenizer):
    class Echo(torch.nn.Module):
        """Stands in for a model: 'generates' a fixed continuation."""

        training = False
        device = torch.device("cpu")

        def __init__(self, tail: list[int]):
            super().__init__()
            self.tail = torch.tensor([tail])

        def generate(self, input_ids, attention_mask, **_):
            return torch.cat([input_ids, self.tail.expand(len(input_ids), -1)], dim=1)

    completion = "<think>x</think><queries>a | b | c</queries>"
    tail = tokenizer(completion + "<eos><pad>", add_special_tokens=False)["input_ids"]
    out = generate.sample_completions(Echo(tail), tokenizer, ["<bos>p", "<bos>longer p"],
                                      progress=False)
    assert out == [[completion], [completion]]


# ------------------------------------------------------------------------ checkpoints

def _logits(model, tokenizer, text: str) -> torch.Tensor:
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits


def test_policy_store_round_trip(tokenizer, tmp_path):
    store = checkpoints.PolicyStore(tmp_path)
    config = {"size": "xs", "seed": 0}
    calls = []

    def train():
        calls.append(1)
        return ladder.build_policy("xs", tokenizer, seed=0), tokenizer, {"note": "fresh"}

    path = store.cached("sft", config, train)
    assert path == store.path_for("sft", config) and path.name.startswith("sft-")
    assert store.is_complete(path) and (path / "model.safetensors").exists()
    assert not list(path.glob("*.bin")) and not list(path.glob("*.pt"))
    assert store.cached("sft", config, train) == path and len(calls) == 1
    model, loaded_tok, meta = store.load(path)
    assert meta["note"] == "fresh" and meta["config"] == config and meta["kind"] == "sft"
    text = "<bos>signals:\nsearch: brexit\nwrite news search queries:\n<think>"
    original = ladder.build_policy("xs", tokenizer, seed=0)
    assert torch.allclose(_logits(original, tokenizer, text), _logits(model, loaded_tok, text))
    assert loaded_tok.decode(loaded_tok("<think>a</think><eos>", add_special_tokens=False)[
        "input_ids"], skip_special_tokens=True) == "<think>a</think>"


def test_interrupted_save_leaves_nothing_complete(tokenizer, tmp_path):
    store = checkpoints.PolicyStore(tmp_path)

    def crash():
        raise RuntimeError("killed mid-training")

    with pytest.raises(RuntimeError):
        store.cached("sft", {"a": 1}, crash)
    assert not store.is_complete(store.path_for("sft", {"a": 1}))

    class BrokenTokenizer:
        def save_pretrained(self, folder):
            raise OSError("disk full")

    model = ladder.build_policy("xs", tokenizer, seed=0)
    with pytest.raises(OSError):
        store.cached("sft", {"a": 2}, lambda: (model, BrokenTokenizer(), {}))
    path = store.path_for("sft", {"a": 2})
    assert not path.exists() and not store.is_complete(path)
    with pytest.raises(FileNotFoundError):
        store.load(path)
    # The next attempt trains again and completes.
    assert store.is_complete(store.cached("sft", {"a": 2}, lambda: (model, tokenizer, {})))


# -------------------------------------------------------------------------------- SFT

def test_sft_reduces_training_loss(world, tokenizer, users, prompt_map, tmp_path):
    demos = prompts.surface_demonstrations(prompts.surface_context(world, 5), users)
    model = ladder.build_policy("xs", tokenizer, seed=0)
    model, logs = sft.train_sft(
        model, tokenizer, [prompt_map[u] for u in users], [demos[u] for u in users],
        lr=3e-3, epochs=2, batch_size=16, seed=0, output_dir=tmp_path, progress=False)
    losses = [row["loss"] for row in logs if "loss" in row]
    assert len(losses) >= 3 and losses[-1] < losses[0] - 0.3
    assert "train_runtime" in logs[-1]


def test_sft_loss_is_completion_cross_entropy_and_matches_trl_default(
        world, tokenizer, users, prompt_map, tmp_path):
    """The plain-loss trainer logs the same losses as TRL's fused-head SFTTrainer, and its
    first loss equals a hand-computed cross-entropy over completion tokens only."""
    import torch
    import trl

    demos = prompts.surface_demonstrations(prompts.surface_context(world, 5), users)
    pairs = [(prompt_map[u], demos[u]) for u in users[:16]]

    def run(trainer_class):
        model = ladder.build_policy("xs", tokenizer, seed=0)
        _, logs = sft.train_sft(model, tokenizer, *map(list, zip(*pairs, strict=True)),
                                lr=3e-3, epochs=1, batch_size=16, seed=0, output_dir=tmp_path,
                                progress=False, logging_steps=1, trainer_class=trainer_class)
        return [row["loss"] for row in logs if "loss" in row]

    plain, fused = run(sft.plain_loss_trainer_class()), run(trl.SFTTrainer)
    assert plain == pytest.approx(fused, rel=1e-4)

    model = ladder.build_policy("xs", tokenizer, seed=0)
    total, count = 0.0, 0
    with torch.no_grad():
        for prompt, completion in pairs:
            p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            c_ids = tokenizer(completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
            logits = model(torch.tensor([p_ids + c_ids])).logits[0]
            logp = torch.log_softmax(logits.double(), dim=-1)
            for i, token in enumerate(c_ids):
                total -= float(logp[len(p_ids) + i - 1, token])
                count += 1
    assert plain[0] == pytest.approx(total / count, rel=1e-3)


@pytest.mark.parametrize("size", ["xs", "m"])
@pytest.mark.parametrize("items", [None, 23])
def test_completion_head_loss_equals_the_full_logits_loss_and_its_gradients(tokenizer, size, items):
    """The LM head on the scored positions only: same loss and same gradients as
    transformers' loss over every position's logits (right padding, masked prompts)."""
    import torch

    torch.manual_seed(0)
    model = ladder.build_policy(size, tokenizer, seed=0)
    ids = torch.randint(5, len(tokenizer), (3, 17))
    attention = torch.ones_like(ids)
    attention[1, 12:] = 0  # right padding
    labels = ids.clone()
    labels[:, :9] = -100  # prompt
    labels[attention == 0] = -100
    labels[2, 9:11] = -100
    inputs = {"input_ids": ids, "attention_mask": attention, "labels": labels, "use_cache": False}

    def loss_and_grads(compute):
        model.zero_grad()
        loss = compute()
        loss.backward()
        return float(loss.detach()), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    extra = {} if items is None else {"num_items_in_batch": torch.tensor(items)}
    full, full_grads = loss_and_grads(lambda: model(**inputs, **extra).loss)
    ours, our_grads = loss_and_grads(lambda: sft.completion_head_loss(
        model, inputs, None if items is None else torch.tensor(items)))
    assert ours == pytest.approx(full, rel=1e-5)
    assert len(our_grads) == len(full_grads)
    for mine, theirs in zip(our_grads, full_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)


def _pairs_loss_and_grads(model, pairs):
    """Hand-rolled reference: every (prompt ids, completion ids) pair as one right-padded
    row, the full logits, the token-mean cross-entropy of the completion tokens."""
    ids, attention, scored = sft.right_padded(pairs, 0)
    model.zero_grad()
    logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits[:, :-1]
    loss = torch.nn.functional.cross_entropy(logits[scored].double(), ids[:, 1:][scored].double()
                                             .long())
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("size", ["xs", "m"])
def test_shared_prompt_loss_equals_each_pair_read_alone(tokenizer, size):
    """Prompts of different lengths, one to three completions each of different lengths:
    reading each prompt once gives the loss and gradients of reading every pair alone."""
    torch.manual_seed(1)
    model = ladder.build_policy(size, tokenizer, seed=0)
    vocab = len(tokenizer)
    prompt_lengths, completion_lengths = [9, 23, 4], [[5, 2], [7], [1, 6, 3]]
    rows = [{"prompt_ids": torch.randint(5, vocab, (n,)).tolist(),
             "completion_ids": [torch.randint(5, vocab, (m,)).tolist() for m in ms]}
            for n, ms in zip(prompt_lengths, completion_lengths, strict=True)]
    batch = sft.collate_prompt_groups(rows, pad_id=tokenizer.pad_token_id)
    assert batch["owner"].tolist() == [0, 0, 1, 2, 2, 2]
    assert int((batch["completion_labels"] != -100).sum()) == 24
    model.zero_grad()
    shared = sft.shared_prompt_loss(model, batch)
    shared.backward()
    shared_grads = [p.grad.clone() for p in model.parameters()]
    pairs = [(row["prompt_ids"], c) for row in rows for c in row["completion_ids"]]
    alone, alone_grads = _pairs_loss_and_grads(model, pairs)
    assert float(shared.detach()) == pytest.approx(alone, rel=1e-5)
    for mine, theirs in zip(shared_grads, alone_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)
    fallback = sft._pairs_loss(model, batch)  # the path of models without a decoder/head split
    assert float(fallback.detach()) == pytest.approx(alone, rel=1e-5)


def test_prompt_groups_share_prompts_append_eos_and_cut_like_max_length(tokenizer):
    eos = tokenizer.eos_token
    rows = sft.prompt_groups(tokenizer, ["a b c", "d e", "a b c"], ["x y", "z" + eos, "w"])
    assert len(rows["prompt_ids"]) == 2 and [len(c) for c in rows["completion_ids"]] == [2, 1]
    assert all(c[-1] == tokenizer.eos_token_id for cs in rows["completion_ids"] for c in cs)
    assert rows["completion_ids"][0][0] == tokenizer("x y" + eos, add_special_tokens=False)[
        "input_ids"]
    cut = sft.prompt_groups(tokenizer, ["a b c", "d e"], ["x y", "z"], max_length=4)
    # 3 prompt tokens leave one completion token; 2 leave two (all of "z" + eos)
    assert [len(c) for cs in cut["completion_ids"] for c in cs] == [1, 2]
    assert sft.prompt_groups(tokenizer, ["a b c"], ["x"], max_length=3)["prompt_ids"] == []
    # a prompt longer than max_length leaves no room, however long the completion
    assert sft.prompt_groups(tokenizer, ["a b c d e"], ["v w x y z"], max_length=3)[
        "prompt_ids"] == []
    with pytest.raises(ValueError, match="as many prompts"):
        sft.prompt_groups(tokenizer, ["a"], [])


def test_sft_steps_take_batch_size_completions_of_shared_prompts(
        world, tokenizer, users, prompt_map, tmp_path):
    """Two completions per prompt and batch_size 8: four prompts (eight completions) a
    step, so 32 users make 8 steps an epoch (max_length above every prompt, so none is
    cut)."""
    demos = prompts.surface_demonstrations(prompts.surface_context(world, 5), users)
    chosen = users[:32]
    model = ladder.build_policy("xs", tokenizer, seed=0)
    _, logs = sft.train_sft(model, tokenizer, [prompt_map[u] for u in chosen for _ in range(2)],
                            [demos[u] for u in chosen for _ in range(2)], lr=3e-3, epochs=1,
                            batch_size=8, seed=0, output_dir=tmp_path, progress=False,
                            logging_steps=1, max_length=1024)
    assert max(row["step"] for row in logs) == 8


def test_word_level_tokenizer_one_id_per_word_and_marker():
    texts = ["Trump signs the Order", "health care bill | senate vote", "<queries>a | b</queries>"]
    tok = tok_mod.train_tokenizer(texts * 3, vocab_size=100, kind="word")
    ids = tok("Trump signs", add_special_tokens=False)["input_ids"]
    assert len(ids) == 2 and tok.unk_token_id not in ids
    assert tok_mod.FORMAT_TOKENS == TAGS + prompts.POINTER_TOKENS
    assert len(prompts.POINTER_TOKENS) == 64 and prompts.POINTER_TOKENS[-1] == "<s64>"
    for marker in tok_mod.FORMAT_TOKENS:
        assert len(tok(marker, add_special_tokens=False)["input_ids"]) == 1
    assert len(set(tok.convert_tokens_to_ids(list(tok_mod.FORMAT_TOKENS)))) == 68
    pointed = tok("<queries><s1>|<s64> trump</queries>", add_special_tokens=False)["input_ids"]
    assert tok.decode(pointed, skip_special_tokens=True).split() == [
        "<queries>", "<s1>", "|", "<s64>", "trump", "</queries>"]
    with pytest.raises(ValueError, match="extra tokens"):
        tok_mod.train_tokenizer(texts, vocab_size=64, kind="word")
    text = "<queries> trump order | zebra </queries>"
    decoded = tok.decode(tok(text, add_special_tokens=False)["input_ids"], skip_special_tokens=True)
    assert decoded.split() == ["<queries>", "trump", "order", "|", "</queries>"]  # zebra: unk
    assert parse_completion("<think>x</think>" + decoded).queries == ("trump order",)


def test_tokenizer_kind_is_checked():
    with pytest.raises(ValueError, match="kind"):
        tok_mod.train_tokenizer(["a b"], 4096, kind="chars")


def _pointers(demo: str) -> list[int]:
    body = demo.split("<queries>", 1)[1].removesuffix("</queries>")
    return [int(part.strip()[2:-1]) for part in body.split("|")]


def test_surface_demonstrations_draw_recent_lines(world, users, prompt_map):
    ctx = prompts.surface_context(world, n_queries=5)
    single = prompts.surface_demonstrations(ctx, users)
    many = prompts.surface_demonstrations(ctx, users, per_user=6, pool=8, decay=0.7, seed=3)
    assert prompts.surface_demonstrations(ctx, users, per_user=6, pool=8, decay=0.7,
                                          seed=3) == many
    other = prompts.surface_demonstrations(ctx, users, per_user=6, pool=8, decay=0.7, seed=4)
    assert other != many
    drawn_counts: dict[int, int] = {}
    for user in users:
        demos = many[user]
        lines = body_lines(prompt_map[user])
        k, pool = min(5, len(lines)), min(8, len(lines))
        assert isinstance(demos, list) and len(demos) == 6
        assert demos[0] == single[user] and other[user][0] == single[user]
        for demo in demos[1:]:
            numbers = _pointers(demo)
            assert numbers == sorted(set(numbers)) and len(numbers) == k  # distinct, in order
            assert 1 <= numbers[0] and numbers[-1] <= pool
            domains = [lines[n - 1].split(" ")[1].rstrip(":") for n in numbers]
            assert parse_completion(demo).reasoning == "recent: " + ", ".join(
                list(dict.fromkeys(domains))[:3])
            for n in numbers:
                drawn_counts[n] = drawn_counts.get(n, 0) + 1
    # recency-weighted: the most recent line is copied more often than the oldest of the pool
    assert drawn_counts[1] > drawn_counts.get(8, 0)
    # a pool smaller than n_queries: the drawn lists copy the whole pool
    small = prompts.surface_demonstrations(ctx, users[:5], per_user=3, pool=3)
    for user in users[:5]:
        assert all(_pointers(demo) == [1, 2, 3] for demo in small[user][1:])
    with pytest.raises(ValueError):
        prompts.surface_demonstrations(ctx, users[:1], per_user=0)
    with pytest.raises(ValueError):
        prompts.surface_demonstrations(ctx, users[:1], per_user=2, decay=0.0)


def test_surface_demonstrations_of_a_user_without_signals(world, users):
    empty = dataclasses.replace(world, events=world.events[world.events["user_id"] != users[0]])
    ctx = prompts.surface_context(empty, n_queries=5)
    demos = prompts.surface_demonstrations(ctx, users[:2], per_user=3)
    assert demos[users[0]] == ["<think>recent: </think><queries></queries>"] * 3
    assert not parse_completion(demos[users[0]][0]).format_ok
    assert len(demos[users[1]]) == 3


# -------------------------------------------------------------------------------- GRPO

def test_cpu_logprobs_equal_trl_fused_head(tokenizer, prompt_map, tmp_path):
    """The plain-logits log-probabilities and entropies, each distinct prompt read once,
    equal TRL's fused-head kernel on the completion positions (temperature 0.7, padded
    sequences, two completions of each of two prompts), with equal gradients."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from newsstudy.teacher import grpo

    model = ladder.build_policy("xs", tokenizer, seed=0)
    config = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4,
                        num_generations=2, max_completion_length=8, temperature=0.7,
                        use_cpu=True, bf16=False, report_to="none",
                        activation_checkpointing=False)
    trainer = grpo.cpu_logprob_trainer_class()(
        model=model, reward_funcs=lambda completions, **kw: [0.0] * len(completions),
        args=config, train_dataset=Dataset.from_dict({"prompt": list(prompt_map.values())[:4]}),
        processing_class=tokenizer)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tokenizer), (4, 20), generator=generator)
    keep = 8
    ids[1, :-keep], ids[3, :-keep] = ids[0, :-keep], ids[2, :-keep]  # G = 2 per prompt
    mask = torch.ones_like(ids)
    mask[0:2, :3] = 0  # a left-padded prompt
    mask[3, -4:] = 0  # a completion that ended early

    def run(method):
        trainer.model.zero_grad()
        logps, entropies, _ = method(trainer, trainer.model, ids, mask, keep, compute_entropy=True)
        (logps * mask[:, -keep:]).sum().backward()
        grads = [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None]
        return logps.detach(), entropies.detach(), grads

    read = []
    hook = trainer.model.get_input_embeddings().register_forward_hook(
        lambda module, inputs, output: read.append(tuple(inputs[0].shape)))
    ours = run(type(trainer)._get_per_token_logps_and_entropies)
    hook.remove()
    assert read == [(2, 20 - keep), (4, keep)]  # two distinct prompts, then four completions
    trl_ = run(GRPOTrainer._get_per_token_logps_and_entropies)
    valid = mask[:, -keep:].bool()
    assert torch.allclose(ours[0][valid], trl_[0][valid], atol=1e-5)
    assert torch.allclose(ours[1][valid], trl_[1][valid], atol=1e-4)
    assert (ours[0][~valid] == 0).all()
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ours[2], trl_[2], strict=True))


def test_training_log_probs_are_those_of_the_guarded_sampler(tokenizer, prompt_map, tmp_path):
    """The loss's log-probabilities of guarded rollouts equal the log-probabilities the
    sampler drew them with (the guard's mask and the temperature applied), position by
    position; without the guard's mask they do not (the guard forces and forbids tokens)."""
    from datasets import Dataset
    from trl import GRPOConfig

    from newsstudy.teacher import grpo

    model = ladder.build_policy("xs", tokenizer, seed=0)
    texts = list(prompt_map.values())[:3]
    tokenizer.padding_side = "left"
    encoded = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    budget, temperature = 24, 0.7
    torch.manual_seed(0)
    with decoding.guarded(model, tokenizer), torch.no_grad():
        out = model.generate(**encoded, do_sample=True, temperature=temperature, top_p=1.0,
                             top_k=0, max_new_tokens=budget, num_return_sequences=4,
                             output_scores=True, return_dict_in_generate=True,
                             pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    ids, keep = out.sequences, len(out.scores)
    drawn = torch.log_softmax(torch.stack(out.scores, dim=1).float(), dim=-1).gather(
        -1, ids[:, -keep:].unsqueeze(-1)).squeeze(-1)
    ended = (ids[:, -keep:] == tokenizer.eos_token_id).int().cumsum(1)
    valid = (ended == 0) | ((ended == 1) & (ids[:, -keep:] == tokenizer.eos_token_id))
    mask = torch.cat([encoded["attention_mask"].repeat_interleave(4, dim=0), valid.long()], 1)
    config = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4,
                        num_generations=4, max_completion_length=budget,
                        temperature=temperature, use_cpu=True, bf16=False, report_to="none",
                        activation_checkpointing=False)

    def log_probs(guard: bool):
        trainer = grpo.cpu_logprob_trainer_class(guard)(
            model=model, reward_funcs=lambda completions, **kw: [0.0] * len(completions),
            args=config, train_dataset=Dataset.from_dict({"prompt": texts[:1] * 4}),
            processing_class=tokenizer)
        with torch.no_grad():
            return trainer._get_per_token_logps_and_entropies(model, ids, mask, keep,
                                                              compute_entropy=True)

    ours, entropy, _ = log_probs(guard=True)
    assert torch.isfinite(drawn[valid]).all() and valid.sum() > 40
    assert torch.allclose(ours[valid], drawn[valid], atol=1e-4)
    assert torch.isfinite(entropy).all() and (entropy >= -1e-6).all()
    forced = drawn[valid] == 0.0  # the guard left one token: log-probability 0
    assert forced.any()
    unmasked, _, _ = log_probs(guard=False)
    assert not torch.allclose(unmasked[valid], drawn[valid], atol=1e-2)


def test_tokenizer_cache_is_shared_by_sizes_and_rebuilt_when_damaged(world, tmp_path, monkeypatch):
    """One tokenizer per world and prompt format, whatever the size; a truncated cache entry
    is rebuilt with a warning instead of failing every later run."""
    from newsstudy import params, teacher

    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path))
    settings = params.load_params("03_grpo", "smoke").model_copy(update={"profile": "probe"})
    first = teacher.PolicyPipeline(world, settings, scorer=None)
    ids = first.tokenizer()("search brexit vote", add_special_tokens=False)["input_ids"]
    other = teacher.PolicyPipeline(world, settings.model_copy(update={"model": "s"}), scorer=None)
    assert other._tokenizer_config() == first._tokenizer_config()
    folders = list((tmp_path / "probe" / "models").glob("tokenizer-*"))
    assert len(folders) == 1
    (folders[0] / "tokenizer.json").write_text('{"truncat')
    again = teacher.PolicyPipeline(world, settings, scorer=None)
    with pytest.warns(UserWarning, match="unreadable"):
        rebuilt = again.tokenizer()
    assert rebuilt("search brexit vote", add_special_tokens=False)["input_ids"] == ids
    assert teacher.PolicyPipeline(world, settings, scorer=None).tokenizer() is not None


def test_a_teacher_trained_in_the_kernel_scores_with_its_own_copy_of_the_paper_rewards(
        world, tmp_path, monkeypatch):
    """The pretrained profile trains its teachers in the notebook's kernel, from a pipeline
    built without a scorer: the paper's reward is built for the run, with the run's
    weights, and a scorer the pipeline was given keeps its own weights (an ablation run
    must not change what later evaluations score with)."""
    from newsstudy import params, teacher
    from newsstudy.policy import checkpoints
    from newsstudy.rewards import RewardScorer, RewardWeights
    from newsstudy.teacher import grpo as grpo_module

    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path))
    settings = params.load_params("03_grpo", "smoke").model_copy(update={"profile": "probe"})
    seen = []

    def fake_train(model, tok, scorer, user_prompts, grpo_settings, weights, **kwargs):
        seen.append((scorer, weights))
        raise RuntimeError("stop after the scorer is chosen")

    monkeypatch.setattr(teacher.PolicyPipeline, "prompt_only", lambda self: tmp_path / "sft")
    monkeypatch.setattr(checkpoints.PolicyStore, "load", staticmethod(lambda path: (None, None, {})))
    monkeypatch.setattr(grpo_module, "train_grpo", fake_train)
    ablated = RewardWeights(align=1.0, cov=0.0, spec=1.0, div=1.0, struct=1.0)
    for own in (None, RewardScorer.from_settings(world, settings)):
        pipeline = teacher.PolicyPipeline(world, settings, scorer=own)
        with pytest.raises(RuntimeError, match="stop after"):
            pipeline.teacher(0, ablated, "paper")
        scorer, weights = seen[-1]
        assert isinstance(scorer, RewardScorer) and scorer.weights == weights == ablated
        if own is not None:
            assert scorer is not own and own.weights == RewardWeights()
