"""The simulator's settings: the feed, the click model and the return model.

Each field's default, range and meaning live here once. Notebook 06's parameter schema
(:class:`newsstudy.schemas.ABParams`) takes these fields as they are, so the simulator and
its notebook cannot disagree; :mod:`newsstudy.ab.simulate` documents how each one is used.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FeedSettings(_Settings):
    """The feed and its ranker."""

    feed_size: int = Field(default=10, ge=1, le=100, description="Articles per feed.")
    recall_size: int = Field(default=50, ge=1, le=1000,
                             description="Candidates each recall path keeps.")
    ranker: Literal["rrf", "round_robin"] = Field(
        default="rrf", description="How the feed ranks the union of the recall paths.")
    rrf_c: float = Field(default=60.0, ge=0, le=1000, description="Reciprocal-rank fusion constant.")
    popularity_halflife_days: float = Field(
        default=1.0, gt=0, le=30, description="Half-life of a click's weight in the popularity path.")
    affinity_prior: float = Field(
        default=2.0, ge=0, le=100, description="Pseudo-clicks smoothing a user's category shares.")


class ClickModel(_Settings):
    """Position-based click model over latent relevance."""

    position_decay: float = Field(
        default=0.8, ge=0, le=5, description="Examination probability at rank r: (1 + r)^-decay.")
    p_interest: float = Field(
        default=0.5, gt=0, le=1,
        description="Click probability of an examined article of the user's main interest "
                    "that names one of their terms.")
    topic_only_share: float = Field(
        default=0.4, ge=0, le=1,
        description="Share of p_interest an article of the topic earns without naming a term.")
    p_outside: float = Field(
        default=0.02, ge=0, le=1,
        description="Click probability of an examined article outside the user's interests.")
    popularity_exponent: float = Field(
        default=0.3, ge=0, le=3, description="Exponent of the article's latent appeal factor.")
    p_max: float = Field(default=0.95, gt=0, le=1, description="Cap of any click probability.")

    @model_validator(mode="after")
    def _click_range(self):
        if self.p_outside > self.p_interest:
            raise ValueError(f"p_outside ({self.p_outside}) must not exceed "
                             f"p_interest ({self.p_interest})")
        return self

    def examination(self, feed_size: int) -> np.ndarray:
        """Probability of examining each rank of a feed of ``feed_size`` articles."""
        return (1.0 + np.arange(feed_size)) ** -self.position_decay


class ReturnModel(_Settings):
    """Daily visits and habit."""

    visit_rate: float = Field(
        default=0.35, gt=0, lt=1, description="Day-0 visit probability of an average warm user.")
    visit_spread: float = Field(
        default=1.0, ge=0, le=5, description="Spread of users' taste for the feed (logit sd).")
    activity_effect: float = Field(
        default=0.5, ge=-5, le=5, description="Visit logit per sd of the user's log activity.")
    cold_shift: float = Field(default=-1.0, ge=-5, le=5, description="Visit logit shift of cold users.")
    click_gain: float = Field(default=0.35, ge=0, le=5, description="Habit gained per click.")
    click_cap: int = Field(default=3, ge=1, le=100, description="Most clicks a day that add habit.")
    bounce_penalty: float = Field(
        default=0.35, ge=0, le=5, description="Habit lost by a visit without a click.")
    habit_decay: float = Field(
        default=0.6, ge=0, le=1, description="Share of the habit kept from one day to the next.")


def settings_from_params(params) -> tuple[FeedSettings, ClickModel, ReturnModel]:
    """The simulator's settings from a params object with fields of the same names."""
    def pick(cls):
        return cls(**{name: getattr(params, name) for name in cls.model_fields})

    return pick(FeedSettings), pick(ClickModel), pick(ReturnModel)


def settings_dict(feed: FeedSettings, click: ClickModel, ret: ReturnModel) -> dict:
    """All simulator settings as one flat-ish dict (for results and cache keys)."""
    return {"feed": feed.model_dump(), "click": click.model_dump(), "return": ret.model_dump()}
