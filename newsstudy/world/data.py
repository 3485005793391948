"""Build, save and load the study's world (what notebook 01_data produces).

``build_world(params)`` runs the whole chain (corpus -> embeddings -> topics -> users ->
cleaning) and writes it to ``artifacts/<profile>/world/``. Later notebooks call
``load_world(profile)``; they never rebuild it.

Files in the world folder (all written into a temporary folder that replaces the old one
only when complete, so a half-written world is never read):

==========================  ============================================================
``manifest.json``           params, their hash, counts, sha256 of every file, versions
``articles.parquet``        article_id, date, day, title, subtitle, source, topic,
                            popularity (latent), embed_text (what embedders see),
                            in_history_index, in_test_index
``article_embeddings.npy``  float32 unit rows aligned with articles.parquet
``topics.json``             keywords and sizes per topic; ``topic_centroids.npy``
``users.parquet``           user_id, split, is_cold, activity (latent), n_history_events
``events.parquet``          observable history: event_id, user_id, day, domain, text,
                            article_id, p_noise and kept (the cleaner's output)
``event_labels.parquet``    event_id, noise_kind, is_noise, interest_topic  [latent]
``interests.parquet``       user_id, slot, topic, weight, terms  [latent]
``test_clicks.parquet``     user_id, day, article_id, interest_topic  [ground truth]
``cleaning.json``           the cleaner's scores on held-out users, and baselines'
==========================  ============================================================
"""

from __future__ import annotations

import json
import platform
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from newsstudy import __version__, embed, paths, world
from newsstudy.io import (
    config_hash,
    damaged_files,
    read_json,
    sha256_file,
    write_json,
    write_parquet,
)
from newsstudy.schemas import DataParams
from newsstudy.world import cleaning, corpus, topics

WORLD_FORMAT = 3


class WorldMissing(FileNotFoundError):
    """No (complete) world has been built for a profile yet."""


@dataclass
class WorldData:
    """A loaded world: the frames of ``world.World`` plus embeddings and topics."""

    manifest: dict
    articles: pd.DataFrame
    article_embeddings: np.ndarray
    topic_keywords: list[list[str]]
    topic_centroids: np.ndarray
    users: pd.DataFrame
    events: pd.DataFrame
    event_labels: pd.DataFrame
    interests: pd.DataFrame
    test_clicks: pd.DataFrame
    cleaning: dict
    cleaner: cleaning.CleaningModel | None = None  # set when simulated in memory

    @property
    def history_days(self) -> int:
        """Number of history days (the test window starts on this day)."""
        return int(self.manifest["params"]["history_days"])

    def article_vectors(self, backend: str) -> np.ndarray:
        """Unit vectors of every article (rows of ``articles``) in ``backend``'s space.

        The world's own embeddings when ``backend`` built the world, else the cached
        embedding of the ``embed_text`` column (one cache file per backend and corpus).
        """
        if backend == self.manifest.get("params", {}).get("embedder", "minilm"):
            return self.article_embeddings
        return embed.embed_cached(self.articles["embed_text"].tolist(), backend)

    def topic_centroids_in(self, embedder) -> np.ndarray:
        """Unit mean article vector per topic, in ``embedder``'s space."""
        vectors = self.article_vectors(embedder.name)
        topics = self.articles["topic"].to_numpy()
        centroids = np.stack([vectors[topics == t].mean(axis=0)
                              for t in range(len(self.topic_keywords))])
        return centroids / (np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12)

    def split_users(self, split: str) -> np.ndarray:
        """User ids of a split ('train', 'val' or 'test')."""
        return self.users.loc[self.users["split"] == split, "user_id"].to_numpy()

    def clean_events(self) -> pd.DataFrame:
        """Observable events the cleaner kept (what policies and rewards may see)."""
        return self.events[self.events["kept"]]

    def truth(self, users: np.ndarray | None = None) -> dict[int, set[int]]:
        """Held-out clicked article ids per user (users without clicks are absent)."""
        clicks = self.test_clicks
        if users is not None:
            clicks = clicks[clicks["user_id"].isin(users)]
        return {int(u): set(g.tolist()) for u, g in clicks.groupby("user_id")["article_id"]}


def world_params_hash(params: DataParams) -> str:
    """Hash of everything that determines the world (profile excluded)."""
    config = params.model_dump(exclude={"profile"})
    config["world_format"] = WORLD_FORMAT
    return config_hash(config)


def select_articles(articles: pd.DataFrame, max_articles: int | None, seed: int) -> pd.DataFrame:
    """All articles, or a seeded random subset of ``max_articles`` (dates kept)."""
    if max_articles is None or max_articles >= len(articles):
        return articles.reset_index(drop=True)
    rows = np.sort(np.random.default_rng(seed).choice(len(articles), max_articles, replace=False))
    return articles.iloc[rows].reset_index(drop=True)


def also_on_terminal(log, label: str):
    """``log`` that also writes each line to the terminal (:func:`newsstudy.progress.terminal`),
    so a world build that takes minutes shows its stages where ``reproduce`` runs."""
    from newsstudy.progress import duration, terminal

    started = time.perf_counter()

    def both(text: str) -> None:
        log(text)
        terminal(f"{label}: {text} ({duration(time.perf_counter() - started)} so far)")

    return both


def build_world(params: DataParams, force: bool = False, log=print) -> Path:
    """Build the world for ``params`` unless an identical one exists; return its folder."""
    target = paths.world_dir(params.profile)
    wanted = world_params_hash(params)
    if not force and complete_world_hash(target) == wanted:
        log(f"world {wanted} is up to date in {paths.portable(target)}")
        return target
    if target.is_symlink():  # a variant's link to its base's world: build its own instead
        target.unlink()
    started = time.perf_counter()
    log = also_on_terminal(log, f"world {params.profile}")
    articles = select_articles(corpus.load_articles(), params.max_articles, params.seed)
    log(f"{len(articles)} articles; embedding with {params.embedder} (cached after the first run)")
    vectors = embed.embed_cached(corpus.article_text(articles), params.embedder,
                                 progress=f"world {params.profile}: embedding articles")
    topic_model = topics.build_topics(articles, vectors, params.n_topics, params.seed)
    log(f"{topic_model.n_topics} topics; simulating {params.n_users} users")
    built = simulate(params, articles, vectors, topic_model)
    log(f"{len(built.events)} history events, cleaned")
    frames = {"articles": built.articles, "users": built.users, "events": built.events,
              "event_labels": built.event_labels, "interests": built.interests,
              "test_clicks": built.test_clicks}
    _write_world(target, params, wanted, frames, vectors, topic_model, built.cleaning,
                 built.manifest["constants"], time.perf_counter() - started)
    log(f"world {wanted} written to {paths.portable(target)} in "
        f"{time.perf_counter() - started:.1f}s")
    return target


def world_constants(params: DataParams) -> world.WorldConstants:
    """The simulator's constants with the world knobs that ``params`` sets."""
    return world.WorldConstants(**{name: getattr(params, name) for name in world.KNOBS})


def simulate(params: DataParams, articles: pd.DataFrame, vectors: np.ndarray,
             topic_model: topics.Topics, cleaner: cleaning.CleaningModel | None = None
             ) -> WorldData:
    """Simulate users over a corpus and clean their events, in memory (nothing written).

    ``cleaner``: a fitted cleaner to apply as it is (the sensitivity sweep reuses one);
    by default one is fitted on this world's training users.
    """
    sim = world.simulate_world(
        articles, topic_model, n_users=params.n_users, history_days=params.history_days,
        test_days=params.test_days, events_per_day=params.events_per_day,
        noise_rate=params.noise_rate, cold_share=params.cold_share,
        min_interests=params.min_interests, max_interests=params.max_interests,
        terms_per_interest=params.terms_per_interest, val_share=params.val_share,
        test_share=params.test_share, seed=params.seed, constants=world_constants(params))
    events, cleaning_report, cleaner = _clean(sim, params.seed, cleaner)
    return WorldData(
        manifest={"params": params.model_dump(), "constants": sim.constants,
                  "world_hash": world_params_hash(params)},
        articles=_annotate_articles(articles, sim, params), article_embeddings=vectors,
        topic_keywords=topic_model.keywords, topic_centroids=topic_model.centroids,
        users=sim.users, events=events, event_labels=sim.event_labels,
        interests=sim.interests, test_clicks=sim.test_clicks, cleaning=cleaning_report,
        cleaner=cleaner)


def _clean(sim: world.World, seed: int, model: cleaning.CleaningModel | None = None
           ) -> tuple[pd.DataFrame, dict, cleaning.CleaningModel]:
    """Fit the cleaner on training users (unless given); score it on test users; annotate
    all events."""
    split = sim.users["split"].to_numpy()[sim.events["user_id"].to_numpy()]
    labels = sim.event_labels
    train, test = split == "train", split == "test"
    if model is None:
        model = cleaning.fit_cleaner(sim.events[train], labels["is_noise"].to_numpy()[train],
                                     seed)
    p_noise = model.noise_probability(sim.events)
    flagged = p_noise >= model.threshold
    truth_test = labels["is_noise"].to_numpy()[test]
    report = {
        "threshold": model.threshold,
        "n_train_events": int(train.sum()), "n_test_events": int(test.sum()),
        "classifier": cleaning.cleaning_scores(truth_test, flagged[test]),
        "rule_baseline": cleaning.cleaning_scores(
            truth_test, cleaning.rule_baseline(sim.events[test])),
        "flag_everything": cleaning.cleaning_scores(truth_test, np.ones(test.sum(), bool)),
        "flagged_by_kind": cleaning.recall_by_kind(
            labels["noise_kind"][test], flagged[test]).to_dict(),
        "confusion": cleaning.confusion(truth_test, flagged[test]).to_dict(orient="index"),
    }
    events = sim.events.assign(p_noise=p_noise.astype(np.float32), kept=~flagged)
    return events, report, model


def _annotate_articles(articles: pd.DataFrame, sim: world.World, params: DataParams
                       ) -> pd.DataFrame:
    extra = articles[["article_id", "subtitle", "source"]].assign(
        embed_text=corpus.article_text(articles))
    art = sim.articles.merge(extra, on="article_id")
    art["in_history_index"] = art["day"] < params.history_days
    art["in_test_index"] = (art["day"] >= params.history_days) & (
        art["day"] < params.history_days + params.test_days)
    return art


def _write_world(target: Path, params: DataParams, wanted: str, frames: dict,
                 vectors: np.ndarray, topic_model: topics.Topics, cleaning_report: dict,
                 constants: dict, seconds: float) -> None:
    staging = target.with_name(f".{target.name}.{wanted}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name, frame in frames.items():
        write_parquet(staging / f"{name}.parquet", frame)
    np.save(staging / "article_embeddings.npy", vectors, allow_pickle=False)
    np.save(staging / "topic_centroids.npy", topic_model.centroids, allow_pickle=False)
    write_json(staging / "topics.json", {"keywords": topic_model.keywords,
                                         "sizes": topic_model.sizes().tolist()})
    write_json(staging / "cleaning.json", cleaning_report)
    files = sorted(p.name for p in staging.iterdir())
    manifest = {
        "world_hash": wanted, "params": params.model_dump(), "constants": constants,
        "counts": {name: len(frame) for name, frame in frames.items()},
        "sha256": {name: sha256_file(staging / name) for name in files},
        "versions": {"newsstudy": __version__, "python": platform.python_version(),
                     "numpy": np.__version__, "pandas": pd.__version__},
        "corpus_wheel_sha256": corpus.WHEEL_SHA256, "build_seconds": round(seconds, 2),
        "world_format": WORLD_FORMAT,
    }
    write_json(staging / "manifest.json", manifest)  # written last: marks completeness
    _swap_in(staging, target)


def _swap_in(staging: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)


def complete_world_hash(folder: Path) -> str | None:
    """The world hash of a whole world folder; None if it is missing, unfinished or damaged.

    A world is whole when its manifest (written last) reads and every file it lists still
    has its recorded sha256; a damaged one is rebuilt by 01_data like a missing one.
    """
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return None
    try:
        recorded = json.loads(manifest.read_text())
        wanted = recorded["world_hash"]
    except (ValueError, KeyError, TypeError):
        return None
    damaged = damaged_files(folder, recorded.get("sha256", {}))
    if damaged:
        warnings.warn(f"world in {folder} is damaged ({', '.join(damaged)} do not match the "
                      f"manifest): treated as missing", stacklevel=2)
        return None
    return wanted


def load_world(profile: str) -> WorldData:
    """Load the world notebook 01_data built for ``profile``."""
    folder = paths.world_dir(profile)
    world_hash = complete_world_hash(folder)
    if world_hash is None:
        raise WorldMissing(
            f"no whole world for profile {profile!r} in {folder} (missing, unfinished or "
            f"damaged): run notebook 01_data (newsstudy run 01_data --profile {profile})")
    from newsstudy.parallel import worker_memo

    # a training worker reads the same world for each of its jobs: load it once
    return worker_memo(("world", str(folder.resolve()), world_hash), lambda: _read_world(folder))


def _read_world(folder: Path) -> WorldData:
    topics_json = read_json(folder / "topics.json")
    return WorldData(
        manifest=read_json(folder / "manifest.json"),
        articles=pd.read_parquet(folder / "articles.parquet"),
        article_embeddings=np.load(folder / "article_embeddings.npy", allow_pickle=False),
        topic_keywords=topics_json["keywords"],
        topic_centroids=np.load(folder / "topic_centroids.npy", allow_pickle=False),
        users=pd.read_parquet(folder / "users.parquet"),
        events=pd.read_parquet(folder / "events.parquet"),
        event_labels=pd.read_parquet(folder / "event_labels.parquet"),
        interests=pd.read_parquet(folder / "interests.parquet"),
        test_clicks=pd.read_parquet(folder / "test_clicks.parquet"),
        cleaning=read_json(folder / "cleaning.json"),
    )
