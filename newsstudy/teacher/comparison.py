"""The teachers against the prompt-only policy on validation users: what each optimised,
and what it retrieves.

Every policy writes ``n`` lists per validation user in its serving decoding
(:func:`sample_lists`), once; the lists serve every check of notebook 03 that reads them:

- *each teacher raises what it optimises* (:func:`improvement`): the per-user mean of a
  reward over its lists, teacher (seeds pooled) minus prompt-only, paired over users.
  The paper's rewards score lists from the whole-history prompts; the verifiable reward
  scores lists from the prompts before its target window, against the users' own clicks
  in that window (a check, never training);
- *the teacher beats prompt-only, and closes at least half the gap to ``infer``*
  (:func:`gap_closed`): held-out Recall@10 of the lists (the mean over a user's lists),
  paired over users, and the share of the gap between prompt-only and the ``infer``
  heuristic that the teacher closes, with a percentile bootstrap interval over users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from newsstudy.evaluation import PairedDifference, evaluate_completions, paired_difference
from newsstudy.policy.prompts import expand_pointers


@dataclass(frozen=True)
class Samples:
    """``n`` lists per user of one policy: as written (``raw``, pointers kept) and as
    served (``lists``, pointers expanded), with the prompts they were written for."""

    raw: dict[int, list[str]]
    lists: dict[int, list[str]]
    prompts: dict[int, str]

    @property
    def n(self) -> int:
        """Lists per user."""
        return min((len(texts) for texts in self.raw.values()), default=0)

    def rows(self) -> list[tuple[int, int, str]]:
        """``(user, sample, served list)`` for every list."""
        return [(user, j, text) for user, texts in self.lists.items()
                for j, text in enumerate(texts)]


def sample_lists(pipeline, checkpoint, users: Sequence[int], n: int, seed: int,
                 user_prompts: Mapping[int, str] | None = None) -> Samples:
    """``n`` lists per user from ``checkpoint`` in the policy's decoding, seeded by ``seed``
    (``user_prompts``: what they are written for; default the whole-history prompts)."""
    users = [int(u) for u in users]
    prompts = dict(user_prompts) if user_prompts is not None else pipeline.prompts(users)
    raw = pipeline.complete(checkpoint, users, n_samples=n, seed=seed, user_prompts=prompts,
                            expand=False)
    lists = {u: [expand_pointers(text, prompts[u]) for text in texts] for u, texts in raw.items()}
    return Samples(raw=raw, lists=lists, prompts=prompts)


def mean_reward(scorer, samples: Samples, column: str = "total") -> pd.Series:
    """Per user: the mean of a reward column over the user's lists (``scorer``: the paper's
    :class:`~newsstudy.rewards.RewardScorer` or the verifiable
    :class:`~newsstudy.rewards.verifiable.RetrievalReward`)."""
    rows = samples.rows()
    scored = scorer.score([u for u, _, _ in rows], [t for _, _, t in rows])
    return scored.assign(user=[u for u, _, _ in rows]).groupby("user")[column].mean()


def mean_recall(world, serving, samples: Samples, fusion: str) -> pd.Series:
    """Per user with held-out clicks: the mean Recall@10 of the user's lists."""
    frames = [evaluate_completions(world, serving, {u: texts[j] for u, texts in
                                                    samples.lists.items()}, fusion=fusion)
              ["recall@10"] for j in range(samples.n)]
    return pd.concat(frames, axis=1).mean(axis=1)


def pooled(series: Sequence[pd.Series]) -> pd.Series:
    """Per user, the mean over several runs (the seeds of one teacher)."""
    return pd.concat(series, axis=1).mean(axis=1)


def improvement(after: Sequence[pd.Series], before: pd.Series) -> PairedDifference:
    """Mean per-user reward of the teacher's runs (pooled) minus the warm start's."""
    return paired_difference(pooled(after), before)


@dataclass(frozen=True)
class GapClosed:
    """The teacher against prompt-only and ``infer`` on the same users (Recall@10)."""

    teacher_minus_prompt_only: PairedDifference
    infer_minus_prompt_only: PairedDifference
    share: float  # (teacher - prompt-only) / (infer - prompt-only); NaN when infer is not above
    share_low: float
    share_high: float
    n: int


def gap_closed(teacher: pd.Series, prompt_only: pd.Series, infer: pd.Series,
               n_boot: int = 4000, seed: int = 0) -> GapClosed:
    """How much of the gap between prompt-only and ``infer`` the teacher closes, with a
    95% percentile bootstrap interval over users (users resampled with their three
    values together)."""
    users = teacher.index.intersection(prompt_only.index).intersection(infer.index)
    t, p, i = (np.asarray(s[users], float) for s in (teacher, prompt_only, infer))

    def share(rows) -> float:
        gap = float(i[rows].mean() - p[rows].mean())
        return float((t[rows].mean() - p[rows].mean()) / gap) if gap > 0 else float("nan")

    rng = np.random.default_rng(seed)
    draws = np.array([share(rng.integers(0, len(users), len(users))) for _ in range(n_boot)])
    low, high = (np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any()
                 else (float("nan"), float("nan")))
    return GapClosed(paired_difference(teacher[users], prompt_only[users]),
                     paired_difference(infer[users], prompt_only[users]),
                     share(np.arange(len(users))), float(low), float(high), len(users))
