"""What a policy's lists are made of: copied signal lines, interest candidates, own words.

The prompt names every line with a pointer token: ``<s1> .. <sK>`` the K interest
candidates, the rest the user's signals (:func:`newsstudy.policy.prompts.build_prompts`).
So the raw lists (pointers not yet expanded) say, query by query, where each came from:

- ``candidate``: a query that is one pointer to an interest candidate;
- ``signal``: one pointer to a signal line (a copied signal);
- ``own words``: no pointer at all (words the policy wrote itself);
- ``mixed``: a pointer with words of its own, or several pointers.

:func:`composition` gives each list's shares, and :func:`composition_table` their means
per policy, with the mean number of candidates per list and the share of lists that hold
the first of them (the heaviest interest). Any text is accepted: nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from newsstudy.output_format import QUERIES_CLOSE, QUERIES_OPEN, SEPARATOR
from newsstudy.policy.prompts import offered_candidates

KINDS = ("candidate", "signal", "own words", "mixed")
_POINTER = re.compile(r"<s(\d{1,3})>")


def query_kind(query: str, offered: int) -> str:
    """Where one raw query came from (see the module doc); ``offered``: the prompt's
    number of interest candidates.

    >>> query_kind("<s2>", 5), query_kind("<s9>", 5), query_kind("snp vote", 5)
    ('candidate', 'signal', 'own words')
    >>> query_kind("<s2> latest", 5)
    'mixed'
    """
    pointers = _POINTER.findall(query)
    if not pointers:
        return "own words"
    if len(pointers) > 1 or _POINTER.sub("", query).strip():
        return "mixed"
    return "candidate" if int(pointers[0]) <= offered else "signal"


def raw_queries(completion: object) -> list[str]:
    """The raw queries of a completion's ``<queries>`` block (empty ones dropped)."""
    text = completion if isinstance(completion, str) else ""
    start, end = text.find(QUERIES_OPEN), text.find(QUERIES_CLOSE)
    if start < 0:
        return []
    body = text[start + len(QUERIES_OPEN): end if end > start else None]
    return [q.strip() for q in body.split(SEPARATOR) if q.strip()]


def composition(completion: object, prompt: str) -> dict[str, float]:
    """One raw list: the share of its queries of each kind, its number of candidates, and
    whether it holds the first candidate."""
    offered = offered_candidates(prompt)
    queries = raw_queries(completion)
    kinds = [query_kind(q, offered) for q in queries]
    shares = {kind: (kinds.count(kind) / len(kinds) if kinds else 0.0) for kind in KINDS}
    first = any(_POINTER.fullmatch(q) and int(_POINTER.findall(q)[0]) == 1 for q in queries)
    return {**shares, "candidates per list": float(kinds.count("candidate")),
            "holds the first candidate": float(bool(offered) and first)}


def composition_table(lists: Mapping[str, Mapping[int, Sequence[str]]],
                      prompts: Mapping[int, str]) -> pd.DataFrame:
    """Per policy (``lists``: policy -> user -> raw lists): the mean composition of its
    lists (users weighted equally), with the number of users."""
    rows = []
    for policy, by_user in lists.items():
        per_user = []
        for user, texts in by_user.items():
            texts = [texts] if isinstance(texts, str) else list(texts)
            parts = [composition(text, prompts.get(user, "")) for text in texts]
            if parts:
                per_user.append(pd.DataFrame(parts).mean())
        mean = pd.DataFrame(per_user).mean() if per_user else pd.Series(dtype=float)
        rows.append({"policy": policy, **{k: float(mean.get(k, np.nan)) for k in
                                          (*KINDS, "candidates per list",
                                           "holds the first candidate")},
                     "users": len(per_user)})
    return pd.DataFrame(rows)
