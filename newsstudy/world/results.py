"""What 01 and 01b write: the world's key numbers and the sensitivity sweep."""

from __future__ import annotations

from newsstudy.results import Estimate, Record


class CleaningScores(Record):
    """A cleaner's scores on held-out labelled events (noise is the positive class)."""

    precision: float | None
    recall: float | None
    f1: float | None
    flagged_share: float


class DataResults(Record):
    """``01_data.json``: the simulated world at a glance."""

    profile: str
    world_hash: str
    n_users: int
    n_articles: int
    n_topics: int
    n_events: int
    events_per_domain: dict[str, int]
    noise_share: float
    cold_share: float
    n_test_clicks: int
    n_test_users_with_clicks: int
    n_val_users: int
    world_knobs: dict[str, int | float]
    cleaning: CleaningScores
    cleaning_rule_baseline: CleaningScores
    cleaning_flag_everything: CleaningScores
    build_seconds: float


class SensitivityRow(Record):
    """One world of the sweep: each yardstick's Recall@10, the two paired gaps with their
    intervals, and whether each world gate holds there."""

    knob: str
    level: str
    value: float | None
    copy_signals: float
    content: float
    gru4rec: float
    infer: float
    oracle: float
    infer_minus_copy: Estimate
    oracle_minus_best_baseline: Estimate
    infer_over_copy: float | None
    oracle_over_best_baseline: float | None
    inference_pays: bool
    ceiling_clears_baselines: bool


class SensitivityResults(Record):
    """``01b_sensitivity.json``: how the two world gates move with each world knob."""

    profile: str
    n_users_per_world: int
    n_worlds: int
    settings: dict[str, list[float | int | str | None]]
    rows: list[SensitivityRow]
    inference_pays_share: float
    ceiling_clears_share: float
    seconds: float
