"""The results files of one profile, read once for the claims' checks.

Results read
------------

Every value is read through the results contract (``newsstudy.results``): the model each
notebook wrote its file with (``newsstudy.report.contract``) types the value at the path a
check reads, so an estimate is always ``Estimate(mean, low, high, n)`` and a paired
comparison ``Paired(diff, low, high, n, ...)``; nothing is parsed from text. A file, or a
key in it, that is missing or does not match its model makes the claim "not run" with the
reason. What each check reads:

- ``03_grpo``: ``offline.{rl_teacher, rl_teacher_verifiable, prompt_only}.metrics.recall_at_10``,
  ``ablation``
  (``all_five``, ``without_<reward>``) and ``ablation_paired``, ``parameters``;
- ``03b_baselines``: ``methods.<baseline>.recall_at_10``;
- ``04_scaling``: ``capacity.<size>`` (``params``, ``recall_at_10``), ``capacity_fit``,
  ``best_of_n.<N>``, ``best_of_n_gains``, ``best_of_n_diminishing``;
- ``05_distillation``: ``distillation.{on_policy, supervised, none, teacher}``,
  ``gap_share``, ``serving.{teacher, student}.users_per_second``;
- ``06_ab_simulation``: ``metrics.{dau, ctr, cold_dau}`` (``lift``, ``p_value``), ``aa``;
- the gates of :data:`WORLD_GATES`.

Per-user tables read (optional)
-------------------------------

``reports/<profile>/tables/<name>_per_user.csv`` for the names of ``PER_USER_TABLES``: one
row per (method, seed, user) with a ``method`` column, a ``user`` column and the metric
columns (``recall@10``). A user's seeds are averaged before pairing. Pairs compared on
users: each RL teacher (``03``) against prompt-only (``03``) and every baseline (``03b``);
on-policy against supervised and supervised against none (``05``). Users are the unit:
a user's scores under two methods are correlated, so the paired interval is the test of
"A beats B on these users" (and far tighter than two separate intervals). The reward
ablation, capacity and best-of-N have no per-user table and compare separate intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import ValidationError

from newsstudy import paths
from newsstudy.evaluation import PairedDifference, paired_difference
from newsstudy.io import read_json
from newsstudy.report import contract
from newsstudy.report.verdicts import (
    NO_PER_USER,
    Missing,
)

PER_USER_TABLES: dict[str, str] = {"03": "03_grpo", "03b": "03b_baselines",
                                   "04_capacity": "04_scaling", "05": "05_distillation"}


class Results:
    """The results files of one profile, read once; ``get`` raises ``Missing`` with a reason.

    ``per_user``: per-user table name (``PER_USER_TABLES``) -> its long DataFrame, for the
    paired comparisons (``paired``); absent tables make those parts compare intervals.
    """

    def __init__(self, files: Mapping[str, Any], problems: Mapping[str, str] | None = None,
                 per_user: Mapping[str, pd.DataFrame] | None = None):
        self.files = dict(files)
        self.problems = dict(problems or {})
        self.per_user = dict(per_user or {})

    @classmethod
    def load(cls, profile: str) -> Results:
        """Every ``reports/<profile>/results/*.json`` and the per-user tables there.

        Unreadable results files become problems; a per-user table that is missing or
        unreadable is left out (its comparisons fall back to separate intervals).
        """
        folder = paths.results_path(profile, "x").parent
        files, problems = {}, {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                files[path.stem] = read_json(path)
            except (OSError, ValueError) as err:
                problems[path.stem] = f"results/{path.name} unreadable ({type(err).__name__})"
        per_user = {}
        for name in PER_USER_TABLES:
            path = paths.tables_dir(profile) / f"{name}_per_user.csv"
            try:
                frame = pd.read_csv(path)
            except (OSError, ValueError):
                continue
            if "method" not in frame.columns and "size" in frame.columns:
                frame = frame.assign(method=frame["size"])  # 04: one "method" per size
            per_user[name] = frame
        return cls(files, problems, per_user)

    def user_scores(self, table: str, method: str, metric: str = "recall@10") -> pd.Series | None:
        """``metric`` of ``method`` per user (index: user) from a per-user table, or None."""
        frame = self.per_user.get(table)
        if frame is None or not {"method", "user", metric} <= set(frame.columns):
            return None
        rows = frame[frame["method"] == method]
        return rows.set_index("user")[metric] if len(rows) else None

    def paired(self, a: tuple[str, str], b: tuple[str, str],
               metric: str = "recall@10") -> PairedDifference | str:
        """``a`` minus ``b`` on their common users, each side a (table, method); seeds averaged.

        When it cannot be paired, the reason as text (``NO_PER_USER``, or too few users).
        """
        scores_a, scores_b = self.user_scores(*a, metric), self.user_scores(*b, metric)
        if scores_a is None or scores_b is None:
            return NO_PER_USER
        try:
            return paired_difference(scores_a, scores_b)
        except ValueError:
            return "fewer than 2 users in both per-user tables"

    def get(self, notebook: str, *keys: str) -> Any:
        """``results/<notebook>.json[keys[0]][keys[1]]...``, typed by the notebook's results
        model (``newsstudy.report.contract``); ``Missing`` if absent or not as the model
        declares it."""
        if notebook in self.problems:
            raise Missing(self.problems[notebook])
        if notebook not in self.files:
            raise Missing(f"results/{notebook}.json not found (notebook {notebook} not run)")
        value = self.files[notebook]
        for depth, name in enumerate(keys):
            if not isinstance(value, Mapping) or name not in value:
                path = "".join(f"[{k!r}]" for k in keys[: depth + 1])
                raise Missing(f"results/{notebook}.json has no {path}")
            value = value[name]
        if notebook not in contract.MODELS:
            return value
        try:
            return contract.typed(notebook, keys, value)
        except (KeyError, ValidationError) as err:
            path = "".join(f"[{k!r}]" for k in keys)
            first = (err.errors()[0] if isinstance(err, ValidationError) else {"msg": str(err)})
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise Missing(f"results/{notebook}.json {path} does not match its results model"
                          f" ({where + ': ' if where else ''}{first['msg']})") from None

    def optional(self, notebook: str, *keys: str) -> Any:
        """Like :meth:`get`, or None when the value is missing or malformed."""
        try:
            return self.get(notebook, *keys)
        except Missing:
            return None
