"""The body of :mod:`newsstudy.teacher` (its docstring says what it does)."""

from __future__ import annotations

import copy
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from newsstudy import evaluation, paths
from newsstudy.io import config_hash, read_json
from newsstudy.output_format import parse_completion
from newsstudy.policy import (
    checkpoints,
    decoding,
    generate,
    ladder,
    pretrained,
    prompts,
    sft,
    tokenizer,
)
from newsstudy.rewards import RewardScorer, RewardWeights, verifiable
from newsstudy.teacher import grpo

REWARDS = ("paper", "verifiable")
"""The rewards a teacher trains with: the paper's five, or the verifiable retrieval reward."""


@dataclass
class PolicyPipeline:
    """Builds, caches and runs the query-writing policies for one world and settings.

    ``settings`` is a validated params object with the ``PolicySettings`` and
    ``RewardSettings`` fields (e.g. ``GRPOParams``). ``grpo_overrides``: ``GRPOConfig``
    arguments of a GPU run (``newsstudy.policy.hardware.grpo_config_overrides``); how a run
    executes is not part of a checkpoint's cache key. ``scorer`` may be None for a pipeline
    that only tokenizes, prompts and decodes (GRPO training needs one).
    """

    world: object
    settings: object
    scorer: RewardScorer | None
    log: object = print
    grpo_overrides: dict = field(default_factory=dict)
    _tokenizer: object = field(default=None, repr=False)

    @property
    def store(self) -> checkpoints.PolicyStore:
        """Checkpoint store of the profile."""
        return checkpoints.PolicyStore(paths.profile_artifacts(self.settings.profile) / "models")

    # ------------------------------------------------------------------ data
    def train_users(self) -> np.ndarray:
        """The seeded sample of training users whose prompts SFT and GRPO use."""
        users = self.world.split_users("train")
        rng = np.random.default_rng(self.settings.seed)
        return np.sort(rng.permutation(users)[: self.settings.n_train_users])

    @property
    def is_pretrained(self) -> bool:
        """Whether the policy is a pretrained model (not a ladder size trained from scratch)."""
        return self.settings.model not in ladder.LADDER

    @property
    def threads(self) -> int:
        """Torch threads for training and generation: 1 for ladder models, all for LLMs."""
        return torch.get_num_threads() if self.is_pretrained else 1

    def prompts(self, users, world=None) -> dict[int, str]:
        """Prompts of users, from their cleaned signals in ``world`` (default: the whole
        history window) and the recipe's interest candidates (chat template for pretrained
        models)."""
        s, world = self.settings, self.world if world is None else world
        if self.is_pretrained:
            return prompts.build_prompts(world, users, s.max_prompt_signals, s.max_prompt_chars,
                                         chat=True, tokenizer=self.tokenizer(), bos="",
                                         candidates=s.prompt_candidates)
        return prompts.build_prompts(world, users, s.max_prompt_signals, s.max_prompt_chars,
                                     candidates=s.prompt_candidates)

    @property
    def decoding(self) -> decoding.Decoding:
        """The one decoding of rollouts and serving (see :mod:`newsstudy.policy.decoding`)."""
        s = self.settings
        return decoding.Decoding(temperature=s.temperature, top_p=s.top_p,
                                 max_new_tokens=s.max_completion_length,
                                 duplicate_guard=s.duplicate_guard)

    def _base_config(self) -> dict:
        s = self.settings
        architecture = (vars(ladder.LADDER[s.model]) if s.model in ladder.LADDER else None)
        return {"world": self.world.manifest["world_hash"], "model": s.model,
                "architecture": architecture,
                "tokenizer_kind": s.tokenizer_kind, "vocab_size": s.vocab_size,
                "prompt_format": prompts.PROMPT_FORMAT, "max_prompt_signals": s.max_prompt_signals,
                "max_prompt_chars": s.max_prompt_chars, "prompt_candidates": s.prompt_candidates,
                "n_train_users": s.n_train_users, "n_queries": s.n_queries, "seed": s.seed,
                "lora_rank": s.lora_rank}

    def _tokenizer_config(self) -> dict:
        """What the world's tokenizer depends on: the same for every ladder size and seed."""
        s = self.settings
        return {"world": self.world.manifest["world_hash"], "tokenizer_kind": s.tokenizer_kind,
                "vocab_size": s.vocab_size, "prompt_format": prompts.PROMPT_FORMAT,
                "max_prompt_signals": s.max_prompt_signals, "n_queries": s.n_queries,
                "prompt_candidates": s.prompt_candidates}

    # ------------------------------------------------------------------ tokenizer
    def tokenizer(self):
        """The tokenizer trained on the world's text (cached), or the pretrained model's own."""
        if self._tokenizer is None and self.is_pretrained:
            self._tokenizer = pretrained.load_tokenizer(self.settings.model)
        if self._tokenizer is None:
            folder = (paths.profile_artifacts(self.settings.profile) / "models"
                      / f"tokenizer-{config_hash(self._tokenizer_config())}")
            if (folder / "tokenizer.json").exists():
                try:
                    self._tokenizer = tokenizer.load_tokenizer(folder)
                except Exception as error:  # a damaged cache entry (truncated, not JSON)
                    warnings.warn(f"tokenizer cache {folder} is unreadable "
                                  f"({type(error).__name__}); rebuilding it", stacklevel=2)
            if self._tokenizer is None:
                texts = tokenizer.world_corpus_texts(self.world, n_queries=self.settings.n_queries,
                                                     max_signals=self.settings.max_prompt_signals,
                                                     candidates=self.settings.prompt_candidates)
                self._tokenizer = tokenizer.train_tokenizer(texts, self.settings.vocab_size,
                                                            kind=self.settings.tokenizer_kind)
                tokenizer.save_tokenizer(self._tokenizer, folder)
        return self._tokenizer

    # ------------------------------------------------------------------ SFT
    def sft_config(self) -> dict:
        """Everything that determines the warm-start checkpoint."""
        s = self.settings
        return {**self._base_config(), "stage": "sft", "sft_rows": sft.ROWS,
                "sft_epochs": s.sft_epochs,
                "sft_learning_rate": s.sft_learning_rate, "sft_batch_size": s.sft_batch_size,
                "demos_per_user": s.demos_per_user, "demo_pool": s.demo_pool,
                "imitation_curve": [s.imitation_curve_users, s.imitation_curve_points],
                # the curve decodes with the policy's decoding (its guard rules included)
                "curve_decoding": self.decoding.as_dict() if s.imitation_curve_users else None}

    def prompt_only(self) -> Path:
        """The SFT policy on surface demonstrations: the paper's 'prompt-only' row.

        For a pretrained model with ``sft_epochs = 0`` it is the model itself (its
        converted folder; nothing is trained or copied).
        """
        if self.is_pretrained and self.settings.sft_epochs == 0:
            return self.base_model()
        return self.store.cached("sft", self.sft_config(), self._train_sft)

    def base_model(self) -> Path:
        """The untrained starting point of a pretrained model (its safetensors folder)."""
        if not self.is_pretrained:
            raise ValueError(f"{self.settings.model!r} is a ladder size: it has no pretrained "
                             f"base model (it is built from random weights)")
        return pretrained.model_folder(self.settings.model)

    def demonstration_pairs(self, users, well_formed_only: bool = True) -> list[tuple[str, str]]:
        """(prompt, raw demonstration) pairs of the recipe's SFT demonstrations for ``users``.

        ``well_formed_only`` drops a demonstration whose expanded list does not parse (what
        SFT trains on); the held-out loss keeps them all.
        """
        user_prompts = self.prompts(users)
        demos = prompts.recipe_demonstrations(self.world, self.settings, users, user_prompts)
        return [(user_prompts[int(u)], demo) for u in users for demo in demos[int(u)]
                if not well_formed_only or parse_completion(
                    prompts.expand_pointers(demo, user_prompts[int(u)])).format_ok]

    def _train_sft(self):
        s = self.settings
        pairs = self.demonstration_pairs(self.train_users())
        tok = self.tokenizer()
        model = ladder.build_policy(s.model, tok, seed=s.seed)
        self.log(f"SFT {s.model} on {len(pairs)} surface demonstrations, {s.sft_epochs} epochs")
        curve = self._imitation_curve(tok)
        with generate.torch_threads(self.threads), tempfile.TemporaryDirectory() as tmp:
            model, history = sft.train_sft(
                model, tok, [p for p, _ in pairs], [d for _, d in pairs],
                lr=s.sft_learning_rate, epochs=s.sft_epochs, batch_size=s.sft_batch_size,
                seed=s.seed, output_dir=tmp, peft_config=pretrained.lora_config(s.lora_rank),
                callbacks=[curve] if curve else None, progress=False, label=f"SFT {s.model}")
        return model, tok, {"log_history": history, "n_demonstrations": len(pairs),
                            "imitation_curve": curve.rows if curve else []}

    def curve_users(self) -> np.ndarray:
        """The validation users behind the SFT imitation curve (a seeded sample)."""
        users = self.world.split_users("val")
        rng = np.random.default_rng(self.settings.seed + 1)
        return np.sort(rng.permutation(users)[: self.settings.imitation_curve_users])

    def _imitation_curve(self, tok):
        s = self.settings
        if s.imitation_curve_users < 1:
            return None
        from newsstudy import evaluation
        from newsstudy.teacher import imitation

        users = self.curve_users()
        serving = evaluation.serving_retriever(self.world, s.serving_embedder, s.index_kind,
                                               k_per_query=s.k_per_query)
        d = self.decoding

        def decode(model, tokenizer, texts):
            return [out[0] for out in generate.sample_completions(
                model, tokenizer, texts, temperature=d.temperature, top_p=d.top_p,
                max_new_tokens=d.max_new_tokens, seed=s.seed, guard=d.duplicate_guard,
                progress=False)]

        probe = imitation.imitation_probe(self.world, serving, self.prompts(users), tok, decode,
                                          users, s.fusion)
        return imitation.ImitationCurve(probe, s.imitation_curve_points)

    # ------------------------------------------------------------------ GRPO
    def grpo_settings(self, seed: int, reward: str = "paper") -> grpo.GRPOSettings:
        """Dr.GRPO hyper-parameters for one seed and reward (``"paper"``: the five rewards,
        ``"verifiable"``: the retrieval reward; each has its own learning rate and KL
        coefficient, the budget of steps, users and lists is shared)."""
        s = self.settings
        verifiable = reward == "verifiable"
        return grpo.GRPOSettings(
            steps=s.grpo_steps, users_per_step=s.users_per_step,
            num_generations=s.num_generations,
            learning_rate=s.verifiable_learning_rate if verifiable else s.grpo_learning_rate,
            beta=s.verifiable_beta if verifiable else s.beta,
            temperature=s.temperature, top_p=s.top_p, duplicate_guard=s.duplicate_guard,
            max_completion_length=s.max_completion_length, seed=seed)

    def teacher_config(self, seed: int, weights: RewardWeights | None = None,
                       reward: str | None = None) -> dict:
        """Everything that determines one GRPO checkpoint."""
        s, reward = self.settings, self._reward(reward)
        config = {**self.sft_config(), "stage": "grpo",
                  "grpo": self.grpo_settings(seed, reward).as_dict()}
        if reward == "paper":
            weights = weights or RewardWeights.from_settings(s)
            return {**config, "weights": weights.__dict__, "reward_embedder": s.reward_embedder,
                    "n_judge_clusters": s.n_judge_clusters, "index_kind": s.index_kind}
        return {**config, "reward": "verifiable", "reward_version": verifiable.REWARD_VERSION,
                "target_days": s.target_days, "reward_depth": s.reward_depth,
                "w_struct": s.w_struct, "serving": [s.serving_embedder, s.index_kind,
                                                    s.k_per_query, s.fusion]}

    def _reward(self, reward: str | None) -> str:
        reward = self.settings.teacher_reward if reward is None else reward
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        return reward

    def verifiable_reward(self) -> verifiable.RetrievalReward:
        """The verifiable retrieval reward over this pipeline's training users."""
        return verifiable.RetrievalReward.from_settings(self.world, self.settings,
                                                        self.train_users())

    def window_prompts(self, users) -> dict[int, str]:
        """Prompts of ``users`` built from the days before the verifiable reward's target
        window (what the verifiable teacher trains on; for validation users, what its
        checks sample from)."""
        cut, _ = verifiable.target_window(self.world, self.settings.target_days)
        return self.prompts(users, world=prompts.history_until(self.world, cut))

    def grpo_prompts(self, reward: str | None = None, scorer=None) -> dict[int, str]:
        """The prompts GRPO trains on: every training user's (whole history window) for the
        paper's rewards; for the verifiable reward, those of the training users with
        targets, built from the days before the target window (``scorer``: the
        verifiable reward, if built already)."""
        if self._reward(reward) == "paper":
            return self.prompts(self.train_users())
        scorer = self.verifiable_reward() if scorer is None else scorer
        return self.window_prompts(scorer.users)

    def reward_scorer(self, reward: str | None = None, weights: RewardWeights | None = None):
        """The scorer GRPO trains with: for the paper's reward a copy of the pipeline's
        scorer (built from the settings if it has none) carrying ``weights`` (default: the
        recipe's), so the pipeline's own keeps its weights; else the verifiable reward."""
        if self._reward(reward) != "paper":
            return self.verifiable_reward()
        scorer = copy.copy(self.scorer if self.scorer is not None
                           else RewardScorer.from_settings(self.world, self.settings))
        scorer.weights = weights or RewardWeights.from_settings(self.settings)
        return scorer

    def teacher(self, seed: int, weights: RewardWeights | None = None,
                reward: str | None = None) -> Path:
        """The Dr.GRPO policy for one seed (cached), trained with ``reward`` (default: the
        recipe's ``teacher_reward``): ``"paper"``, the five rewards with ``weights``
        (default: the recipe's), or ``"verifiable"``, the retrieval reward (``weights``
        unused)."""
        base, reward = self.prompt_only(), self._reward(reward)
        weights = weights or RewardWeights.from_settings(self.settings)

        def train():
            model, tok, _ = checkpoints.PolicyStore.load(base)
            scorer = self.reward_scorer(reward, weights)
            user_prompts = self.grpo_prompts(reward, scorer)
            self.log(f"Dr.GRPO seed {seed}, {reward} reward, {self.settings.grpo_steps} steps, "
                     f"{len(user_prompts)} users")
            with generate.torch_threads(self.threads), tempfile.TemporaryDirectory() as tmp:
                model, history = grpo.train_grpo(
                    model, tok, scorer, user_prompts, self.grpo_settings(seed, reward),
                    scorer.weights, output_dir=tmp,
                    peft_config=pretrained.lora_config(self.settings.lora_rank),
                    config_overrides=self.grpo_overrides, progress=False,
                    label=f"Dr.GRPO {reward} seed {seed}")
            return model, tok, {"log_history": history, "reward": reward,
                                "n_grpo_users": len(user_prompts)}

        return self.store.cached("grpo", self.teacher_config(seed, weights, reward), train)

    # ------------------------------------------------------------------ inference
    def complete(self, checkpoint: Path, users, n_samples: int = 1, greedy: bool = False,
                 temperature: float | None = None, seed: int = 0, return_counts: bool = False,
                 batch_size: int | None = None, top_p: float | None = None,
                 guard: bool | None = None, user_prompts: dict[int, str] | None = None,
                 expand: bool = True) -> dict:
        """Completions of a checkpoint for users: ``{user: [n_samples texts]}``, expanded.

        By default the policy's own decoding (:attr:`decoding`, the same as its GRPO
        rollouts), seeded by ``seed``; ``greedy``, ``temperature``, ``top_p`` and ``guard``
        override it (for diagnostics). Pointer tokens are expanded to the lines they name
        (``expand=False`` keeps them). With ``return_counts=True`` each value is
        ``(texts, generated token counts)``. ``batch_size`` defaults to 128 sequences for
        ladder models, 16 for pretrained ones. ``user_prompts``: the prompts to complete
        (default: the users' whole-history prompts, :meth:`prompts`).
        """
        model, tok, _ = checkpoints.PolicyStore.load(checkpoint)
        user_prompts = self.prompts(users) if user_prompts is None else user_prompts
        order = list(user_prompts)
        if batch_size is None:
            batch_size = 16 if self.is_pretrained else 128
        d = self.decoding
        with generate.torch_threads(self.threads):
            outputs = generate.sample_completions(
                model, tok, [user_prompts[u] for u in order], n_samples=n_samples,
                temperature=d.temperature if temperature is None else temperature,
                top_p=d.top_p if top_p is None else top_p, max_new_tokens=d.max_new_tokens,
                seed=seed, greedy=greedy, batch_size=batch_size, return_counts=return_counts,
                guard=d.duplicate_guard if guard is None else guard, progress=False,
                expand=expand)
        if return_counts:
            texts, counts = outputs
            return {u: (t, c) for u, t, c in zip(order, texts, counts, strict=True)}
        return dict(zip(order, outputs, strict=True))

    def policy(self, checkpoint: Path, seed: int = 0, **overrides):
        """A function users -> {user: completion} (one list each, the policy's decoding).

        ``overrides`` go to :meth:`complete` (e.g. ``greedy=True`` for a diagnostic).
        """
        def complete(users):
            return {u: texts[0] for u, texts in
                    self.complete(checkpoint, users, seed=seed, **overrides).items()}

        return complete


def log_history(checkpoint: Path) -> list[dict]:
    """The training log stored with a checkpoint."""
    return read_json(Path(checkpoint) / checkpoints.COMPLETE).get("log_history", [])


def imitation_curve(checkpoint: Path) -> list[dict]:
    """The imitation curve recorded during a checkpoint's SFT (empty if none)."""
    return read_json(Path(checkpoint) / checkpoints.COMPLETE).get("imitation_curve", [])


def training_seconds(checkpoint: Path) -> float:
    """Wall time the checkpoint's own training took (from its stored log), 0 if unknown."""
    return float(sum(h.get("train_runtime", 0.0) for h in log_history(checkpoint)))


def train_job(settings, model: str, seed: int | None = None,
              weights: dict | None = None, grpo_overrides: dict | None = None,
              reward: str = "paper") -> str:
    """One training run of a notebook's recipe (``settings``: its validated parameters),
    for :func:`newsstudy.parallel.map_jobs`.

    The SFT warm start of ``model`` when ``seed`` is None, else its Dr.GRPO policy for
    ``seed`` and ``reward`` (``"paper"`` with the reward ``weights``, a dict of
    :class:`RewardWeights` fields, or ``"verifiable"``). It goes through the checkpoint
    cache, so the notebook's own ``prompt_only()`` / ``teacher()`` calls then load what the
    job trained. Returns the checkpoint folder.
    """
    from newsstudy.world import data

    settings = settings.model_copy(update={"model": model})
    world = data.load_world(settings.profile)
    paper = seed is not None and reward == "paper"  # SFT and the verifiable reward need no judge
    scorer = RewardScorer.from_settings(world, settings) if paper else None
    pipe = PolicyPipeline(world, settings, scorer, log=lambda *a: None,
                          grpo_overrides=grpo_overrides or {})
    if seed is None:
        return str(pipe.prompt_only())
    return str(pipe.teacher(seed, RewardWeights(**weights) if weights else None, reward))


def train_in_parallel(pipeline: PolicyPipeline, sft_models: list[str],
                      grpo_runs: list[tuple]) -> None:
    """Train the warm starts of ``sft_models``, then the GRPO runs of ``pipeline``'s model
    (``(seed, weights)`` pairs with the paper's rewards, or ``(seed, weights, reward)``),
    each in its own single-thread process, two at a time.

    Everything lands in the checkpoint cache; the caller then loads it as usual. Runs
    already cached cost a lookup. Pretrained models use every thread of this process
    instead, so for them nothing is done here (they train when first asked for).
    """
    if pipeline.is_pretrained:
        return
    from newsstudy.parallel import map_jobs

    settings = pipeline.settings
    overrides = dict(pipeline.grpo_overrides)
    map_jobs(train_job, [(settings, model) for model in dict.fromkeys(sft_models)])
    runs = [(run[0], run[1], run[2] if len(run) > 2 else "paper") for run in grpo_runs]
    map_jobs(train_job, [(settings, settings.model, seed,
                          vars(weights) if weights else None, overrides, reward)
                         for seed, weights, reward in runs])


def mean_rewards_of(scorer: RewardScorer, samples) -> pd.DataFrame:
    """Per user: each paper reward, their total and the well-formed share, averaged over
    the user's lists (``samples``: :class:`newsstudy.teacher.comparison.Samples`)."""
    from newsstudy.rewards import REWARD_NAMES

    rows = samples.rows()
    scored = scorer.score([u for u, _, _ in rows], [t for _, _, t in rows])
    scored = scored.assign(user=[u for u, _, _ in rows], **{"well-formed": scored["struct"]})
    return scored.groupby("user")[[*REWARD_NAMES, "total", "well-formed"]].mean()


def mean_rewards(pipeline: PolicyPipeline, checkpoint: Path, users, n_samples: int,
                 seed: int) -> pd.DataFrame:
    """Per user: each reward (and the total and the well-formed share) averaged over
    ``n_samples`` lists the checkpoint samples in its decoding: what GRPO optimises, on
    users it may never have seen (notebook 03's improvement check)."""
    from newsstudy.rewards import REWARD_NAMES

    lists = pipeline.complete(checkpoint, users, n_samples=n_samples, seed=seed)
    rows = [(u, text) for u, texts in lists.items() for text in texts]
    scored = pipeline.scorer.score([u for u, _ in rows], [t for _, t in rows])
    scored = scored.assign(user=[u for u, _ in rows], **{"well-formed": scored["struct"]})
    return scored.groupby("user")[[*REWARD_NAMES, "total", "well-formed"]].mean()


def evaluate_checkpoint(pipeline: PolicyPipeline, serving, name: str, checkpoint, seed: int,
                        users, **overrides):
    """Per-user metrics of one checkpoint (one list per user, as served), tagged with
    ``method`` and ``seed``, and the lists it wrote. ``overrides`` change the decoding."""
    from newsstudy.embed import get_embedder

    frame, completions = evaluation.evaluate_policy(
        pipeline.world, serving, pipeline.policy(checkpoint, seed=seed, **overrides), users,
        latent_embedder=get_embedder(pipeline.settings.reward_embedder),
        fusion=pipeline.settings.fusion)
    return frame.assign(method=name, seed=seed), completions


def parameters_of(model: str, vocab_size: int) -> int | None:
    """Parameters of a ladder size or a registered pretrained model (None if unknown)."""
    if model in ladder.LADDER:
        return ladder.parameter_count(model, vocab_size)
    if pretrained.is_registered(model):
        return pretrained.PRETRAINED[model].parameters
    return None


def sft_losses(checkpoint: Path) -> pd.DataFrame:
    """The SFT run's training loss by step, as its checkpoint recorded it."""
    return pd.DataFrame([h for h in log_history(checkpoint) if "loss" in h],
                        columns=["step", "loss"])


def reward_improvement(pipeline: PolicyPipeline, before: Path, after: list[Path], users,
                       n_samples: int, seed: int) -> dict[str, evaluation.PairedDifference]:
    """What GRPO raised, per reward and in total: the mean rewards of ``after``'s sampled
    lists (every seed's teacher, pooled per user) minus ``before``'s, paired over ``users``
    (:func:`mean_rewards`)."""
    from newsstudy.rewards import REWARD_NAMES

    reward_before = mean_rewards(pipeline, before, users, n_samples, seed)
    reward_after = pd.concat([mean_rewards(pipeline, c, users, n_samples, seed) for c in after])
    return {column: evaluation.paired_difference(reward_after[column], reward_before[column])
            for column in [*REWARD_NAMES, "total"]}


def imitation_by_size(pipeline: PolicyPipeline, serving, sizes, users, user_prompts,
                      served: tuple[pd.DataFrame, dict[int, str]] | None = None) -> pd.DataFrame:
    """The same SFT recipe at other sizes: each one's validation R@10, copying and final
    loss, smallest first.

    Each size's prompt-only checkpoint is read from the store (trained beforehand, e.g. by
    :func:`train_in_parallel`), evaluated on ``users`` with the serving decoding. ``served``
    (the recipe's own model, already evaluated: its per-user frame and its lists) adds its
    row without evaluating it again.
    """
    from newsstudy.teacher import imitation

    def row(size: str, checkpoint: Path, frame: pd.DataFrame, completions) -> dict:
        log = sft_losses(checkpoint)
        return {"size": size, "parameters": parameters_of(size, pipeline.settings.vocab_size),
                "recall@10": frame["recall@10"].mean(),
                "words in prompt": imitation.words_in_prompt(completions, user_prompts),
                "SFT loss": float(log["loss"].iloc[-1]) if len(log) else float("nan")}

    rows = []
    if served is not None:
        rows.append(row(pipeline.settings.model, pipeline.prompt_only(), *served))
    for size in sizes:
        other = PolicyPipeline(pipeline.world, pipeline.settings.model_copy(update={"model": size}),
                               pipeline.scorer)
        checkpoint = other.prompt_only()
        frame, completions = evaluation.evaluate_policy(
            pipeline.world, serving, other.policy(checkpoint, seed=pipeline.settings.seed), users,
            fusion=pipeline.settings.fusion)
        rows.append(row(size, checkpoint, frame, completions))
    return pd.DataFrame(rows).sort_values("parameters")


def heuristic_lists(world, users, n_queries: int, seed: int) -> dict[str, dict[int, str]]:
    """The reference heuristics' lists: ``copy (heuristic)``, the user's most recent
    signals, and ``infer (heuristic)``, the interest heuristic of notebook 02 with its
    topics found by the static embedder (:data:`newsstudy.policy.interests.EMBEDDER`: it
    retrieves as well as with MiniLM's topics, in a seventh of the time)."""
    from newsstudy.policy import interests
    from newsstudy.world import strategies

    copying = prompts.surface_context(world, n_queries=n_queries, seed=seed)
    inferring = interests.candidate_context(world, n_queries)
    return {"copy (heuristic)": strategies.completions_for(copying, strategies.copy,
                                                           users).to_dict(),
            "infer (heuristic)": strategies.completions_for(inferring, strategies.infer,
                                                            users).to_dict()}


def offline_evaluation(pipeline: PolicyPipeline, serving, users, prompt_only: Path,
                       teachers: dict[str, dict[int, Path]]):
    """The offline rows on the test users: the ``copy`` and ``infer`` heuristics (for
    reference, :func:`heuristic_lists`), the pretrained model as released (when it is one and SFT changes
    it), the prompt-only policy and every seed of each teacher (``teachers``: method name
    -> seed -> checkpoint), one list per user as served.

    Returns the per-user table (``user``, ``method``, ``seed`` and the metrics) and the
    lists of the prompt-only policy, each teacher's first seed and the zero-shot model.
    """
    s = pipeline.settings
    frames, outputs = [], {}
    for name, lists in heuristic_lists(pipeline.world, users, s.n_queries, s.seed).items():
        frames.append(evaluation.evaluate_completions(pipeline.world, serving, lists,
                                                      fusion=s.fusion)
                      .assign(method=name, seed=s.seed))

    def run(name, checkpoint, seed):
        return evaluate_checkpoint(pipeline, serving, name, checkpoint, seed, users)

    if pipeline.is_pretrained and s.sft_epochs > 0:  # the instruct model as released
        frame, outputs["zero-shot"] = run("zero-shot", pipeline.base_model(), s.seed)
        frames.append(frame)
    frame, outputs["prompt-only"] = run("prompt-only", prompt_only, s.seed)
    frames.append(frame)
    for method, seeds in teachers.items():
        for seed, checkpoint in seeds.items():
            frame, completions = run(method, checkpoint, seed)
            frames.append(frame)
            if seed == s.seed:
                outputs[method] = completions
    return pd.concat(frames).rename_axis("user").reset_index(), outputs
