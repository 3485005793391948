"""The baselines learn what their inductive bias is for, on tiny synthetic worlds.

Two synthetic worlds (orthogonal topic clusters, fresh articles every day, one test day):

* ``sequence``: every user clicks topics in a fixed cycle (c, c+1, ...); the test click
  is the next topic of the cycle. Every topic is equally popular.
* ``interest``: every user follows one topic, visible in searches (all users) and news
  clicks (warm users only); most TRAIN users follow topic 0, so popularity points at
  topic 0 while test users follow the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from newsstudy import evaluation, paper
from newsstudy.baselines import BASELINES, TrainSettings, prepare
from newsstudy.world.data import WorldData

N_TOPICS, DIM, PER_TOPIC, HISTORY_DAYS = 4, 16, 5, 12
SETTINGS = TrainSettings(epochs=15, patience=4, hidden=16, max_history=10,
                         learning_rate=1e-2, batch_size=64, n_negatives=32, knn=5)


def synthetic_world(mode: str, seed: int = 0, n_users: int = 260):
    """A WorldData (+ text lookup embedder) for one of the two patterns above."""
    rng = np.random.default_rng(seed)
    centres = np.eye(N_TOPICS, DIM)
    days = np.repeat(np.arange(HISTORY_DAYS + 1), N_TOPICS * PER_TOPIC)
    topic = np.tile(np.repeat(np.arange(N_TOPICS), PER_TOPIC), HISTORY_DAYS + 1)
    vecs = centres[topic] + 0.15 * rng.normal(size=(len(topic), DIM))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    articles = pd.DataFrame({"article_id": np.arange(len(topic)) + 1000, "day": days,
                             "topic": topic, "in_test_index": days == HISTORY_DAYS,
                             "embed_text": [f"article {i}" for i in range(len(topic))]})
    split = rng.choice(["train", "val", "test"], n_users, p=[0.6, 0.15, 0.25])
    events, clicks = [], []

    def pick(day, t):
        return int(rng.choice(np.flatnonzero((days == day) & (topic == t)))) + 1000

    for user in range(n_users):
        if mode == "sequence":
            start = int(rng.integers(N_TOPICS))
            topic_of = [(start + d) % N_TOPICS for d in range(HISTORY_DAYS + 1)]
            cold = False
        else:
            own = 0 if split[user] == "train" and rng.random() < 0.6 else int(
                rng.integers(1, N_TOPICS))
            topic_of = [own] * (HISTORY_DAYS + 1)
            cold = rng.random() < 0.3
        for day in range(HISTORY_DAYS):
            if mode == "interest":
                events.append((user, day, "search", f"topic {topic_of[day]}", -1))
            if not cold:
                aid = pick(day, topic_of[day])
                events.append((user, day, "news", f"article {aid - 1000}", aid))
        clicks.append((user, HISTORY_DAYS, pick(HISTORY_DAYS, topic_of[HISTORY_DAYS])))
    ev = pd.DataFrame(events, columns=["user_id", "day", "domain", "text", "article_id"])
    ev = ev.assign(event_id=np.arange(len(ev)), kept=True)
    users = pd.DataFrame({"user_id": np.arange(n_users), "split": split,
                          "is_cold": ~ev.groupby("user_id")["domain"].apply(
                              lambda d: (d == "news").any()).reindex(range(n_users),
                                                                     fill_value=False)})
    world = WorldData(
        manifest={"params": {"history_days": HISTORY_DAYS}}, articles=articles,
        article_embeddings=vecs, topic_keywords=[], topic_centroids=centres, users=users,
        events=ev, event_labels=pd.DataFrame(), interests=pd.DataFrame(),
        test_clicks=pd.DataFrame(clicks, columns=["user_id", "day", "article_id"]), cleaning={})

    def embed_texts(texts):
        rows = [vecs[int(t.split()[1])] if t.startswith("article") else
                centres[int(t.split()[1])] + 0.1 * rng.normal(size=DIM) for t in texts]
        return np.asarray(rows, dtype=np.float32)

    return world, prepare(world, "minilm", val_days=1, embed_texts=embed_texts)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train faster on one thread (and do not fight other processes)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def sequence_world():
    return synthetic_world("sequence")


@pytest.fixture(scope="module")
def interest_world():
    return synthetic_world("interest")


def recall10(world, data, name, seed=0):
    model = BASELINES[name]().fit(data, SETTINGS, seed)
    return evaluation.evaluate_rankings(world, model.rank(data.test_users, 20))["recall@10"].mean()


@pytest.mark.parametrize("name", ["gru4rec", "sasrec", "hstu"])
def test_sequence_models_learn_the_order(sequence_world, name):
    world, data = sequence_world
    popularity = recall10(world, data, "popularity")
    assert recall10(world, data, name) > popularity + 0.2


@pytest.mark.parametrize("name", ["content", "nrhub", "pinsage"])
def test_interest_models_find_the_users_topic(interest_world, name):
    world, data = interest_world
    popularity = recall10(world, data, "popularity")
    assert recall10(world, data, name) > popularity + 0.2


@pytest.mark.parametrize("name", list(BASELINES))
def test_rankings_are_valid_and_deterministic(interest_world, name):
    world, data = interest_world
    users = data.test_users[:15]
    first = BASELINES[name]().fit(data, SETTINGS, 3).rank(users, 12)
    second = BASELINES[name]().fit(data, SETTINGS, 3).rank(users, 12)
    allowed = set(world.articles.loc[world.articles["in_test_index"], "article_id"])
    assert first == second
    for ranked in first.values():
        assert len(ranked) == 12 and len(set(ranked)) == 12 and set(ranked) <= allowed


def test_validation_targets_never_touch_test_clicks(interest_world):
    _, data = interest_world
    assert set(data.val_targets) <= set(data.val_users.tolist())
    targets = set().union(*data.val_targets.values())
    assert targets <= set(data.val_rows.tolist())
    assert (data.article_day[data.val_rows] < data.history_days).all()


def test_paper_table_has_every_trained_baseline():
    for name in ("gru4rec", "sasrec", "nrhub", "pinsage", "hstu"):
        assert paper.OFFLINE[name]["recall@10"] > 0


@pytest.mark.slow
def test_baselines_in_worker_processes_equal_the_serial_run(tmp_path, monkeypatch):
    """Two single-thread workers give the serial run's per-user numbers, value for value."""
    from newsstudy import params
    from newsstudy.baselines import runs as baseline_runs
    from newsstudy.world import data

    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path))
    data.build_world(params.load_params("01_data", "smoke"), log=lambda *_: None)
    world = data.load_world("smoke")
    settings = TrainSettings(epochs=2, patience=1, hidden=16, max_history=10,
                             learning_rate=3e-3, batch_size=64, n_negatives=256, knn=10)
    names = ["popularity", "gru4rec", "sasrec"]
    serial, serial_log, _ = baseline_runs.run_baselines(
        world, prepare(world, "static", val_days=5), settings, 2, 0, 50, names=names,
        log=lambda *_: None)
    parallel, parallel_log, seconds = baseline_runs.run_baselines_in_parallel(
        "smoke", "static", 5, settings, 2, 0, 50, names=names, log=lambda *_: None, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)
    timing = [c for c in serial_log.columns if "second" in c]  # wall time differs, nothing else
    pd.testing.assert_frame_equal(serial_log.drop(columns=timing), parallel_log.drop(columns=timing))
    assert set(seconds) == set(names) and len(serial.query("method == 'sasrec'")["seed"].unique()) == 2


def test_graph_product_gradient_is_the_transposed_product():
    """PinSage's sparse product and its hand-written gradient against autograd's own
    (dense float64, a random non-symmetric adjacency)."""
    from newsstudy.baselines.pinsage import GraphProduct, csr

    rng = np.random.default_rng(0)
    dense = rng.random((7, 7)) * (rng.random((7, 7)) < 0.4)
    assert not np.allclose(dense, dense.T)
    adjacency = torch.from_numpy(dense).to_sparse()
    h = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    out = GraphProduct.apply(h, csr(adjacency), csr(adjacency.t().coalesce()))
    expected = torch.from_numpy(dense) @ h
    torch.testing.assert_close(out, expected)
    weights = torch.randn(7, 3, dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * weights).sum(), h)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), h)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize("name", ["sasrec", "hstu", "pinsage", "nrhub"])
def test_a_batch_encoded_in_length_groups_has_the_loss_of_one_padded_batch(interest_world, name):
    """Each group padded to its own longest example changes no output: the loss (no
    dropout, the same negatives) equals the one of a single padded batch."""
    from dataclasses import replace

    world, data = interest_world
    model = BASELINES[name]().fit(data, replace(SETTINGS, epochs=1), seed=0)
    model.model.eval()
    examples = model.training_examples(np.random.default_rng(1))[:48]
    if name != "nrhub":  # click sequences of the tiny world are all equally long
        examples = [example[: 2 + i % 9] for i, example in enumerate(examples)]
    lengths = [len(example[0]) if name == "nrhub" else len(example) for example in examples]
    assert len(set(lengths)) >= 4, lengths
    losses = []
    for groups in (1, 4):
        model.length_groups = groups
        model.generator.manual_seed(5)
        losses.append(model.batch_loss(examples).item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
