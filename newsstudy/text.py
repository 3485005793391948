"""Query text helpers shared by the strategies and the judge: content words, generic queries."""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

GENERIC_QUERIES = ("latest news", "breaking news", "top stories", "news today",
                   "world news", "headlines", "what happened today", "trending now",
                   "news", "current events")
"""Queries that name no interest: what a writer falls back on when it knows nothing."""

_WORD = re.compile(r"[a-z][a-z0-9\-']+")


def content_words(text: str) -> list[str]:
    """Lower-case words of 2+ characters that are not English stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]
