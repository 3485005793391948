"""The simulated cross-domain world (notebook 01): the simulator (:mod:`.simulate`), the
corpus and its topics, the cleaner, the stored world (:mod:`.data`), the strategies that
measure its headroom, and the sensitivity sweep. This file only hands the simulator's
names on."""

from newsstudy.world.simulate import (
    BROWSE_TEMPLATES,
    DOMAINS,
    KNOBS,
    NAVIGATIONAL_NEWS,
    NAVIGATIONAL_PAGES,
    NAVIGATIONAL_SEARCHES,
    NOISE_KINDS,
    SEARCH_MODIFIERS,
    SPLITS,
    Calendar,
    World,
    WorldConstants,
    simulate_world,
)

__all__ = ["BROWSE_TEMPLATES", "DOMAINS", "KNOBS", "NAVIGATIONAL_NEWS", "NAVIGATIONAL_PAGES",
           "NAVIGATIONAL_SEARCHES", "NOISE_KINDS", "SEARCH_MODIFIERS", "SPLITS", "Calendar",
           "World", "WorldConstants", "simulate_world"]
