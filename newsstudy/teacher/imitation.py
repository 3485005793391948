"""Does the policy do what it was trained to do? Imitation of its demonstrations.

The prompt-only policy is trained (SFT) to copy the user's recent signals as its
demonstrations do. Two measures, on validation users, under the serving decoding:

* Recall@10 of its lists against Recall@10 of its demonstrations (the *imitation ratio*;
  the gate asks for at least :data:`newsstudy.gates.IMITATION_BAR`);
* the share of its query words found in its prompt (copying writes only prompt words;
  the demonstrations score 1.0).

:class:`ImitationCurve` records both during SFT, at a few evenly spaced steps, so the
notebook can plot them against SFT steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from transformers import TrainerCallback

from newsstudy.output_format import parse_completion


def words_in_prompt(completions: Mapping[int, str], prompts: Mapping[int, str]) -> float:
    """Mean over lists of the share of their query words (lower-cased) found in the prompt."""
    shares = []
    for user, completion in completions.items():
        words = [w for q in parse_completion(completion).queries for w in q.lower().split()]
        if words:
            seen = set(str(prompts.get(user, "")).lower().split())
            shares.append(np.mean([w in seen for w in words]))
    return float(np.mean(shares)) if shares else float("nan")


def repeats_a_query(completion: str) -> bool:
    """Whether the raw ``<queries>`` block names a query twice (ignoring case)."""
    text = str(completion)
    start, end = text.find("<queries>"), text.find("</queries>")
    if start < 0:
        return False
    body = text[start + len("<queries>"): end if end > start else None]
    queries = [" ".join(q.split()).casefold() for q in body.split("|") if q.strip()]
    return len(queries) != len(set(queries))


def well_formed(completions: Mapping[int, str]) -> float:
    """Share of completions in the strict output format."""
    values = [parse_completion(c).format_ok for c in completions.values()]
    return float(np.mean(values)) if values else float("nan")


class ImitationCurve(TrainerCallback):
    """Runs ``probe(model)`` at ``points`` evenly spaced SFT steps (and the last).

    ``probe`` returns a dict of measures (e.g. Recall@10, words in prompt); each call's
    result, with its ``step``, is appended to :attr:`rows`.
    """

    def __init__(self, probe: Callable[[object], dict], points: int):
        self.probe = probe
        self.points = max(int(points), 1)
        self.rows: list[dict] = []
        self._at: set[int] = set()

    def on_train_begin(self, args, state, control, **kwargs):
        total = max(int(state.max_steps), 1)
        self._at = {max(1, round(total * i / self.points)) for i in range(1, self.points + 1)}

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self._at and model is not None:
            self.rows.append({"step": int(state.global_step), **self.probe(model)})


def imitation_probe(world, serving, prompts: Mapping[int, str], tokenizer, decode: Callable,
                    users: Sequence[int], fusion: str) -> Callable[[object], dict]:
    """A probe for :class:`ImitationCurve`: lists for ``users``, their R@10 and words in prompt.

    ``decode(model, tokenizer, prompt_texts) -> list[str]`` writes one expanded list per
    prompt with the policy's decoding.
    """
    from newsstudy.evaluation import evaluate_completions

    users = [int(u) for u in users]

    def probe(model) -> dict:
        texts = decode(model, tokenizer, [prompts[u] for u in users])
        completions = dict(zip(users, texts, strict=True))
        frame = evaluate_completions(world, serving, completions, fusion=fusion)
        return {"recall@10": float(frame["recall@10"].mean()),
                "words in prompt": words_in_prompt(completions, prompts),
                "well-formed": well_formed(completions)}

    return probe


def demonstration_scores(world, serving, settings, user_prompts: Mapping[int, str],
                         users: Sequence[int], demos: Mapping[int, list[str]] | None = None):
    """Retrieval metrics of every SFT demonstration of ``users`` (what imitation is measured against).

    One row per (user, demonstration): ``copy`` (the first) and ``drawn j``, each expanded
    against the user's prompt and retrieved with ``serving``. ``settings`` carries the
    recipe's demonstration fields (``n_queries``, ``seed``, ``max_prompt_signals``,
    ``demos_per_user``, ``demo_pool``, ``fusion``). ``demos``: the users' demonstrations
    when the caller already drew them (:func:`newsstudy.policy.prompts.recipe_demonstrations`).
    """
    import pandas as pd

    from newsstudy.evaluation import evaluate_completions
    from newsstudy.policy import prompts

    if demos is None:
        demos = prompts.recipe_demonstrations(world, settings, users, user_prompts)
    frames = []
    for j in range(settings.demos_per_user):
        lists = {int(u): prompts.expand_pointers(demos[int(u)][j], user_prompts[int(u)])
                 for u in users}
        frames.append(evaluate_completions(world, serving, lists, fusion=settings.fusion)
                      .assign(demonstration="copy" if j == 0 else f"drawn {j}"))
    return pd.concat(frames).rename_axis("user").reset_index()


def per_user_recall(scores):
    """Per user: the mean Recall@10 of the demonstrations in ``scores``
    (:func:`demonstration_scores`)."""
    return scores.groupby("user")["recall@10"].mean()


@dataclass(frozen=True)
class Demonstrations:
    """The SFT demonstrations of some users: their prompts, the lists, and how each list
    retrieves (one row per user and demonstration, :func:`demonstration_scores`)."""

    prompts: Mapping[int, str]
    lists: Mapping[int, list[str]]
    scores: object  # pandas.DataFrame

    @property
    def recall(self):
        """Per user: the demonstrations' mean Recall@10, the target of imitation."""
        return per_user_recall(self.scores)

    def by_kind(self):
        """Mean Recall@10 and count of the ``copy`` demonstration and of each drawn one."""
        return self.scores.groupby("demonstration")["recall@10"].agg(["mean", "count"])

    def example(self, user: int) -> str:
        """Markdown: one user's prompt and demonstrations."""
        return (f"Prompt of validation user {user}:\n```\n{self.prompts[user]}\n```\n"
                f"Demonstrations: `{self.lists[user]}`")


def demonstrations_of(world, serving, settings, user_prompts: Mapping[int, str],
                      users: Sequence[int]) -> Demonstrations:
    """Draw the recipe's demonstrations of ``users`` once and score them."""
    from newsstudy.policy import prompts

    lists = prompts.recipe_demonstrations(world, settings, users, user_prompts)
    return Demonstrations(user_prompts, lists, demonstration_scores(
        world, serving, settings, user_prompts, users, lists))


def demonstration_recall(world, serving, settings, user_prompts: Mapping[int, str], users,
                         demos: Mapping[int, list[str]] | None = None):
    """Per user: the mean Recall@10 of the demonstrations (the SFT target an imitation check
    compares a policy with); see :func:`demonstration_scores`."""
    scores = demonstration_scores(world, serving, settings, user_prompts, users, demos)
    return per_user_recall(scores)


def decoding_table(evaluate: Callable, users, demo_recall, user_prompts: Mapping[int, str],
                   decodings: Mapping[str, dict]):
    """The prompt-only policy under each decoding: R@10, its share of the demonstrations',
    well-formed share, repeats and copying.

    ``evaluate(users, **overrides)`` returns ``(per-user frame, lists)``; ``decodings`` maps
    a label to decoding overrides (``{}`` is the serving decoding). Returns the table, the
    lists per decoding and the per-user frame of the first decoding (the serving one).
    """
    import pandas as pd

    rows, outputs, first = [], {}, None
    for name, overrides in decodings.items():
        frame, completions = evaluate(users, **overrides)
        outputs[name] = completions
        first = frame if first is None else first
        rows.append({
            "decoding": name, "R@10": frame["recall@10"].mean(),
            "share of demonstrations' R@10": frame["recall@10"].mean()
            / demo_recall[frame.index].mean(),
            "well-formed": well_formed(completions),
            "repeats a query": float(np.mean([repeats_a_query(c) for c in completions.values()])),
            "words in prompt": words_in_prompt(completions, user_prompts)})
    return pd.DataFrame(rows), outputs, first
