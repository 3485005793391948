"""How the world's assumptions move the study's conclusions (notebook 01b).

The world is built to carry the paper's premise, that inferring interests from
cross-domain signals pays. That is an assumption, not a finding. This module makes it
inspectable: each world knob (:data:`newsstudy.world.KNOBS`, plus the interest count,
``noise_rate``, ``cold_share`` and ``events_per_day``) is set low and high around the
profile's value, one at a time, a smaller world is simulated over the same corpus,
topics and embeddings, and the same yardsticks are scored on it:

- ``copy`` and ``infer`` (the legal reference strategies) and ``oracle`` (latent truth),
  served on the serving path notebook 02 chose;
- ``content`` (mean embedding) and ``gru4rec`` (one seed, a short schedule): the baselines.

For speed, every sweep world is served and embedded with the fast static embedder (the
main tables use MiniLM), its events are cleaned by one cleaner fitted on the sweep's
default world (as a deployed cleaner would meet a changed population), and methods are
scored on every non-training user. The default row is computed the same way, so rows
compare with each other, not with the main tables.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from newsstudy import embed, evaluation
from newsstudy.baselines import GRU4Rec, TrainSettings, prepare
from newsstudy.baselines.content import Content
from newsstudy.evaluation import paired_difference
from newsstudy.results import Estimate
from newsstudy.schemas import SENSITIVITY_SETTINGS, DataParams
from newsstudy.world import corpus, data, strategies, topics
from newsstudy.world.results import SensitivityRow

SETTINGS = SENSITIVITY_SETTINGS
"""Knob -> (low, high) settings; the middle setting is the profile's own value."""

METHODS = ("copy", "infer", "oracle", "content", "gru4rec")


def variants(base: DataParams, settings: Mapping[str, tuple] = SETTINGS
             ) -> list[tuple[str, str, object, DataParams]]:
    """(knob, level, value, params) for the default world and each knob's low and high."""
    rows = [("default", "default", None, base)]
    for knob, (low, high) in settings.items():
        for level, value in (("low", low), ("high", high)):
            changes = {knob: value}
            if knob == "max_interests":
                changes["min_interests"] = min(base.min_interests, int(value))
            rows.append((knob, level, value, base.model_copy(update=changes)))
    return rows


def score_world(world, n_queries: int, fusion: str, k_per_query: int, seed: int,
                gru: TrainSettings, val_days: int) -> pd.DataFrame:
    """Per-user Recall@10 of every method in :data:`METHODS` on one (in-memory) world;
    ``gru``: the training settings of the GRU4Rec (and content) yardstick, ``val_days``
    the history days it holds out for early stopping."""
    emb = embed.get_embedder("static")
    users = np.sort(np.concatenate([world.split_users("val"), world.split_users("test")]))
    ctx = strategies.StrategyContext(world, emb, n_queries, seed)
    serving = evaluation.serving_retriever(world, "static", "exact", k_per_query=k_per_query)
    scores = {}
    for name in ("copy", "infer", "oracle"):
        fn = getattr(strategies, name)
        completions = strategies.completions_for(ctx, fn, users).to_dict()
        scores[name] = evaluation.evaluate_completions(world, serving, completions,
                                                       fusion=fusion)["recall@10"]
    prepared = prepare(world, text_embedder="static", val_days=val_days)
    settings = gru
    for name, model in (("content", Content()), ("gru4rec", GRU4Rec())):
        ranked = model.fit(prepared, settings, seed).rank(users)
        scores[name] = evaluation.evaluate_rankings(world, ranked)["recall@10"]
    return pd.DataFrame(scores)


def sweep(base: DataParams, *, n_users: int, n_queries: int, fusion: str, k_per_query: int,
          gru: TrainSettings, val_days: int, settings: Mapping[str, tuple] = SETTINGS,
          log=print,
          workers: int | None = None) -> pd.DataFrame:
    """Mean Recall@10 per (knob, level, method), with the paired gaps the gates read.

    Columns: knob, level, value, method, recall@10, n_users; plus one row per world with
    method ``infer - copy`` and ``oracle - best baseline`` (paired mean differences, with
    ``low``/``high`` 95% interval columns). The default world is scored here (its cleaner
    serves every other world); the others in single-thread worker processes
    (:func:`newsstudy.parallel.map_jobs`), each world seeded as in a serial sweep.
    """
    from newsstudy.parallel import map_jobs

    base = base.model_copy(update={"n_users": n_users})
    scoring = (n_queries, fusion, k_per_query, gru, val_days)
    worlds = variants(base, settings)
    default_rows, cleaner = _score_variant(*worlds[0][:3], worlds[0][3], scoring, None)
    log(f"default: {default_rows[0]['seconds']:.1f}s")
    jobs = [(knob, level, value, params.model_dump(), scoring, cleaner)
            for knob, level, value, params in worlds[1:]]
    rows = list(default_rows)
    for done in map_jobs(_variant_job, jobs, workers):
        log(f"{done[0]['knob']} {done[0]['level']} ({done[0]['value']}): "
            f"{done[0]['seconds']:.1f}s")
        rows.extend(done)
    return pd.DataFrame(rows).drop(columns="seconds")


@functools.lru_cache(maxsize=2)
def _corpus_and_topics(seed: int, max_articles: int | None, embedder: str, n_topics: int):
    """The sweep's shared corpus, embeddings and topics (once per process)."""
    articles = data.select_articles(corpus.load_articles(), max_articles, seed)
    vectors = embed.embed_cached(corpus.article_text(articles), embedder)
    return articles, vectors, topics.build_topics(articles, vectors, n_topics, seed)


def _variant_job(knob: str, level: str, value, params: dict, scoring: tuple, cleaner):
    rows, _ = _score_variant(knob, level, value, DataParams(**params), scoring, cleaner)
    return rows


def _score_variant(knob: str, level: str, value, params: DataParams, scoring: tuple, cleaner
                   ) -> tuple[list[dict], object]:
    """Simulate one world of the sweep and score it: its rows and the cleaner it used."""
    n_queries, fusion, k_per_query, gru, val_days = scoring
    shown = value if knob != "default" else None
    started = time.perf_counter()
    articles, vectors, topic_model = _corpus_and_topics(params.seed, params.max_articles,
                                                        params.embedder, params.n_topics)
    world = data.simulate(params, articles, vectors, topic_model, cleaner=cleaner)
    per_user = score_world(world, n_queries, fusion, k_per_query, params.seed, gru, val_days)
    rows = []
    for method in per_user.columns:
        rows.append({"knob": knob, "level": level, "value": shown, "method": method,
                     "recall@10": float(per_user[method].mean()),
                     "low": np.nan, "high": np.nan, "n_users": len(per_user)})
    best = per_user[["content", "gru4rec"]].mean().idxmax()
    for label, a, b in (("infer - copy", "infer", "copy"),
                        ("oracle - best baseline", "oracle", best)):
        gap = paired_difference(per_user[a], per_user[b])
        rows.append({"knob": knob, "level": level, "value": shown, "method": label,
                     "recall@10": gap.diff, "low": gap.low, "high": gap.high,
                     "n_users": gap.n})
    seconds = time.perf_counter() - started
    return [{**row, "seconds": seconds} for row in rows], world.cleaner


def sensitivity_table(long: pd.DataFrame) -> pd.DataFrame:
    """Wide table: one row per (knob, level), methods' Recall@10 and the two paired gaps,
    with whether each gate holds there (infer beats copy by 15%; oracle beats the best
    baseline by 20%)."""
    wide = long.pivot_table(index=["knob", "level"], columns="method", values="recall@10",
                            sort=False)
    values = long.drop_duplicates(["knob", "level"]).set_index(["knob", "level"])["value"]
    wide.insert(0, "value", values.reindex(wide.index))
    best = wide[["content", "gru4rec"]].max(axis=1)
    wide["infer / copy"] = wide["infer"] / wide["copy"]
    wide["oracle / best baseline"] = wide["oracle"] / best
    wide["inference pays"] = wide["infer / copy"] >= 1.15
    wide["ceiling clears baselines"] = wide["oracle / best baseline"] >= 1.2
    return wide.reset_index()



def plot_sensitivity(table: pd.DataFrame):
    """The two gate ratios per knob setting (low, default, high), thresholds dashed."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    default = table[table["knob"] == "default"].iloc[0]
    rows = table[table["knob"] != "default"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.4 * rows["knob"].nunique() + 2.5),
                             sharey=True)
    panels = (("infer / copy", 1.15, "infer / copy (Recall@10 ratio)"),
              ("oracle / best baseline", 1.20, "oracle / best baseline (Recall@10 ratio)"))
    for ax, (column, bar, label) in zip(axes, panels, strict=True):
        sns.scatterplot(rows, x=column, y="knob", hue="level", ax=ax, s=60,
                        hue_order=["low", "high"], palette="deep")
        ax.axvline(default[column], color="grey", lw=1, label="default world")
        ax.axvline(bar, color="black", ls="--", lw=1, label="gate")
        ax.set_xlabel(label)
        ax.set_ylabel("")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_title("Does inferring interests pay?")
    axes[1].set_title("Does the serving path's ceiling clear the baselines?")
    fig.tight_layout()
    return fig


def results_rows(table: pd.DataFrame, long: pd.DataFrame) -> list[SensitivityRow]:
    """The sweep as typed rows for the results file: each world's yardsticks (from the
    wide ``table``), its gates, and the two paired gaps with their intervals (from the
    ``long`` table that :func:`sweep` returned)."""
    gaps = long.set_index(["knob", "level", "method"])

    def gap(knob: str, level: str, label: str) -> Estimate:
        row = gaps.loc[(knob, level, label)]
        return Estimate.of(row["recall@10"], row["low"], row["high"], row["n_users"])

    rows = []
    for row in table.to_dict(orient="records"):
        knob, level = row["knob"], row["level"]
        rows.append(SensitivityRow(
            knob=knob, level=level,
            value=None if pd.isna(row["value"]) else float(row["value"]),
            copy_signals=row["copy"], content=row["content"], gru4rec=row["gru4rec"],
            infer=row["infer"], oracle=row["oracle"],
            infer_minus_copy=gap(knob, level, "infer - copy"),
            oracle_minus_best_baseline=gap(knob, level, "oracle - best baseline"),
            infer_over_copy=row["infer / copy"],
            oracle_over_best_baseline=row["oracle / best baseline"],
            inference_pays=bool(row["inference pays"]),
            ceiling_clears_baselines=bool(row["ceiling clears baselines"])))
    return rows
