"""Progress lines: what step, in its own units, and the time left; training runs report
them instead of raw log dicts."""

from __future__ import annotations

from newsstudy import progress


def test_progress_reports_each_tenth_and_the_end():
    lines = []
    bar = progress.Progress("SFT", 100, "steps", out=lines.append)
    for step in range(1, 101):
        bar.update(step)
    assert len(lines) == 10
    assert lines[0].startswith("SFT: 10/100 steps, ") and "left" in lines[0]
    assert lines[-1].startswith("SFT: 100/100 steps, ") and "left" not in lines[-1]


def test_terminal_lines_name_the_notebook(monkeypatch, capsys):
    monkeypatch.setenv(progress.NOTEBOOK_VARIABLE, "03_grpo")
    monkeypatch.setattr("sys.__stderr__", __import__("sys").stderr)
    progress.terminal("world: 3 stages")
    assert capsys.readouterr().err == "[03_grpo] world: 3 stages\n"


def test_duration_format():
    assert [progress.duration(s) for s in (None, 4.4, 192, 3840)] == ["?", "4s", "3m12s", "1h04m"]


def test_quiet_replaces_the_trainers_printer_and_bar_with_step_lines():
    from transformers import PrinterCallback, ProgressCallback

    from newsstudy.policy.quiet import StepLines, quiet

    class Trainer:
        def __init__(self):
            self.callbacks = [PrinterCallback, ProgressCallback]

        def remove_callback(self, callback):
            self.callbacks.remove(callback)

        def add_callback(self, callback):
            self.callbacks.append(callback)

    trainer = quiet(Trainer(), "Dr.GRPO verifiable seed 0")
    assert len(trainer.callbacks) == 1 and isinstance(trainer.callbacks[0], StepLines)
    assert trainer.callbacks[0].label == "Dr.GRPO verifiable seed 0"


def test_embedding_with_progress_reports_texts_and_matches_one_pass(tmp_path, monkeypatch, capsys):
    import numpy as np

    from newsstudy import embed

    class Lengths:  # a deterministic backend: one row per text
        dim = 2

        def encode(self, texts, show_progress=False):
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    monkeypatch.setenv("NEWSSTUDY_DATA", str(tmp_path))
    monkeypatch.setattr(embed, "get_embedder", lambda name, cached=True: Lengths())
    monkeypatch.setattr("sys.__stderr__", __import__("sys").stderr)
    texts = [f"text {'x' * i}" for i in range(25)]
    vectors = embed.embed_cached(texts, "minilm", progress="world: embedding articles", chunk=4)
    assert np.array_equal(vectors, Lengths().encode(texts))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("world: embedding articles: 4/25 texts") and "left" in lines[0]
    assert lines[-1].startswith("world: embedding articles: 25/25 texts")
