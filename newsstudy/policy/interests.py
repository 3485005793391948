"""Interest candidates: queries the prompt offers beside the signals, computed from them.

The paper's teacher is a 32B model: it reads a user's signals and writes, in its own words,
queries about the interests behind them. A model of a few million parameters trained from
scratch here cannot aggregate interests in its own words (its own-word lists retrieved
0.089 Recall@10 where copying signals gave 0.158), so the prompt does part of that work
for it: beside the user's signals it lists up to ``n`` *interest candidates*, each a query
a heuristic writes from the same signals and the corpus, which the policy may point at as
it points at a signal line. Which candidates it writes, in what mix with copied signals,
is the policy's choice: its warm start draws them at random (see
:func:`newsstudy.policy.prompts.surface_demonstrations`), and RL learns from the reward
which ones pay.

The candidates are those of the ``infer`` heuristic (:func:`newsstudy.world.strategies.infer`)
with ``n`` query slots instead of a list's five: every cleaned signal is mapped to its
nearest corpus topic, the topics are weighted by their recency-weighted signal counts, the
slots are shared among them by weight, and each slot is the topic's top keyword and the
words the user repeats most within the topic (ranked by count times rarity across users),
listed topic by topic, heaviest first. So they read only what production logs: the
user's cleaned signals, other users' signals (for rarity) and the corpus. Topics are
found with the fast ``static`` embedder. Nothing here reads latent interests, event
labels or held-out clicks.

What this means against the paper: our policy chooses among interests a heuristic has
aggregated, where the paper's model aggregates them itself. RL here learns *which*
interests and signals to ask about and how many of each, not how to name an interest.
"""

from __future__ import annotations

from collections.abc import Iterable

from newsstudy.output_format import parse_completion

EMBEDDER = "static"
"""The embedder that maps signals to corpus topics. It is fast, and on the default world's
888 validation users with held-out clicks ``infer`` with its topics retrieves as well as
with MiniLM's (Recall@10 0.186 against 0.182, paired difference +0.005 [-0.007, +0.016]),
though the two agree on the topic of only 53% of the signals, in a seventh of the time."""


def candidate_context(world, n: int):
    """The ``infer`` heuristic's context for ``n`` candidates per user (the world's
    cleaned signals grouped by user, word rarity across users, topic centroids).
    Build one per world (or world view) and reuse it for every user."""
    from newsstudy.embed import get_embedder
    from newsstudy.world import strategies

    return strategies.StrategyContext(world, get_embedder(EMBEDDER), n_queries=n, seed=0)


def interest_candidates(world, users: Iterable[int], n: int, context=None) -> dict[int, list[str]]:
    """Up to ``n`` interest candidates per user, heaviest topic first (see the module doc);
    an empty list for ``n = 0`` or a user without cleaned signals.

    ``context``: a :func:`candidate_context` of ``world`` built beforehand (else built here).
    """
    users = [int(u) for u in users]
    if n < 1:
        return {u: [] for u in users}
    from newsstudy.world import strategies

    ctx = candidate_context(world, n) if context is None else context
    ctx.topics_of([text for user in users for text in ctx.user_signals(user)])  # one call
    out = {}
    for user in users:
        if not ctx.user_signals(user):
            out[user] = []
            continue
        out[user] = list(parse_completion(strategies.infer(ctx, user)).queries)[:n]
    return out
