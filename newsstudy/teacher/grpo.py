"""Dr.GRPO on the five rewards, with TRL's ``GRPOTrainer``.

What runs (and what it simplifies):

- **Dr.GRPO** (arXiv:2503.20783) as the paper uses it: ``loss_type="dr_grpo"`` (token
  losses summed and divided by a constant, ``max_completion_length``, not by each
  sequence's length) and ``scale_rewards="none"`` (group-relative advantages
  ``r - mean(group)``, not divided by the group's std). ``G`` lists are sampled per user.
- **KL off by default** (``beta = 0``), as in Dr.GRPO and most recent GRPO recipes; beta is
  a parameter. One policy update per generation batch (``num_iterations = 1``), so the
  PPO ratio is 1 and clipping is inactive: the update is the plain policy gradient with a
  group baseline.
- **Decoding**: rollouts sample with the policy's serving decoding (temperature, top-p,
  the duplicate-query guard of ``newsstudy.policy.decoding``), and rewards score the
  completions with their pointer tokens expanded, exactly as serving sees them.
- **Rewards**: five reward functions, one per paper reward, combined by TRL with
  ``reward_weights`` (so each component is logged as ``rewards/<name>/mean``). They share
  one batched scoring call per generation batch (``_ScoreMemo``).

The reward functions see the user id (a dataset column) and the completion; the scorer
looks up only the user's cleaned signals and the corpus (see ``newsstudy.rewards``).

On the CPU, per-token log-probabilities come from the model's logits of the completion
positions (``log_softmax(logits / temperature)``), not from TRL's chunked fused LM-head
kernel, which is written to save GPU memory on large vocabularies and makes a GRPO step
of this study's small models about twice as slow on a CPU; both give the same values
(a test compares them). On GPUs TRL's own path runs. The log-probabilities read each
distinct prompt of a batch once for its G completions (:func:`completion_logits`), and so
does the sampling of rollouts (:func:`newsstudy.policy.generate.prompts_read_once`): a
prompt is about 270 tokens, a list about 20.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from newsstudy.policy.decoding import guard_version, guarded
from newsstudy.policy.generate import distinct_rows, prompts_read_once
from newsstudy.policy.prompts import expand_pointers
from newsstudy.policy.quiet import quiet
from newsstudy.policy.sft import decoder_and_head
from newsstudy.rewards import REWARD_NAMES, RewardScorer, RewardWeights

LOGPROBS = "shared-prompts"
"""How the CPU path computes log-probabilities (:func:`completion_logits`), in the cache
key of every GRPO checkpoint: equal to the whole-row computation to float precision, whose
rounding still sets a run's path."""

ROLLOUTS = "prompts-read-once"
"""How the CPU path samples its rollouts, in the cache key of every GRPO checkpoint: each
distinct prompt of a batch read once for its G samples
(:func:`newsstudy.policy.generate.prompts_read_once`), equal to reading every row to float
precision."""


@dataclass(frozen=True)
class GRPOSettings:
    """Hyper-parameters of one Dr.GRPO run (TRL names in brackets).

    Every field but ``epsilon`` is a notebook parameter (03's ``grpo_steps``,
    ``users_per_step``, ..., :meth:`newsstudy.teacher.PolicyPipeline.grpo_settings`), so
    none has a default here: the notebook's parameters are their only home.
    """

    steps: int  # optimisation steps [max_steps]
    users_per_step: int  # prompts per step; completions per step = users * G
    num_generations: int  # G: lists sampled per user [num_generations]
    learning_rate: float
    beta: float  # KL coefficient to the reference (SFT) policy
    temperature: float  # sampling temperature of rollouts (and of serving)
    top_p: float  # nucleus mass of rollouts (and of serving)
    duplicate_guard: bool  # newsstudy.policy.decoding.DuplicateQueryGuard
    max_completion_length: int  # tokens; also Dr.GRPO's normalising constant
    seed: int
    epsilon: float = 0.2  # PPO clip range (inactive with one update per batch)

    def as_dict(self) -> dict:
        """Plain dict (for cache keys and manifests), with the guard's rules version."""
        return {**asdict(self), "guard_version": guard_version(self.duplicate_guard),
                "logprobs": LOGPROBS, "rollouts": ROLLOUTS}


class _ScoreMemo:
    """Scores each generation batch once and serves every reward function from it."""

    def __init__(self, scorer: RewardScorer):
        self.scorer = scorer
        self._key: tuple | None = None
        self._frame: pd.DataFrame | None = None

    def frame(self, users: Sequence[int], completions: Sequence[str]) -> pd.DataFrame:
        key = (tuple(int(u) for u in users), tuple(completions))
        if key != self._key:
            self._frame = self.scorer.score(list(key[0]), list(completions))
            self._key = key
        return self._frame


def prompt_text(prompt) -> str:
    """The text of a TRL prompt (a string, or a chat message list: its contents joined)."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
    return str(prompt)


def completion_text(completion) -> str:
    """TRL passes plain strings for text prompts and message lists for chat prompts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def reward_functions(scorer: RewardScorer) -> list[Callable]:
    """One TRL reward function per term of the scorer's reward (``scorer.reward_names``:
    the paper's five, :data:`newsstudy.rewards.REWARD_NAMES`, or the verifiable reward's
    terms), in that order.

    Each has TRL's signature ``f(prompts, completions, user_id, **kwargs) -> list[float]``
    and a ``__name__`` of ``r_<name>`` for the logs.
    """
    memo = _ScoreMemo(scorer)

    def make(name: str) -> Callable:
        def reward(prompts, completions, user_id, **kwargs) -> list[float]:
            texts = [expand_pointers(completion_text(c), prompt_text(p))
                     for c, p in zip(completions, prompts, strict=True)]
            return memo.frame(user_id, texts)[name].astype(float).tolist()

        reward.__name__ = f"r_{name}"
        return reward

    return [make(name) for name in getattr(scorer, "reward_names", REWARD_NAMES)]


def grpo_config(settings: GRPOSettings, weights: RewardWeights, output_dir: str,
                progress: bool = True, overrides: Mapping | None = None, num_processes: int = 1):
    """The ``trl.GRPOConfig`` of a Dr.GRPO run: the CPU recipe, with ``overrides`` laid over it.

    Without overrides: fp32 on the CPU, one optimisation step per ``users_per_step`` users
    x ``G`` lists. ``overrides`` are ``GRPOConfig`` keyword arguments that move the run onto
    GPUs (``newsstudy.policy.hardware.grpo_config_overrides``: bf16, vLLM, gradient
    checkpointing, a micro-batch). When they set ``per_device_train_batch_size`` and not
    ``gradient_accumulation_steps``, the accumulation is derived so one step still sees
    ``users_per_step x G`` lists over ``num_processes`` processes; ``ValueError`` if that
    total is not a multiple of the micro-batch times the processes.
    """
    from trl import GRPOConfig

    total = settings.users_per_step * settings.num_generations
    args = dict(
        output_dir=output_dir, max_steps=settings.steps,
        per_device_train_batch_size=total,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        learning_rate=settings.learning_rate,
        beta=settings.beta, epsilon=settings.epsilon, temperature=settings.temperature,
        top_p=settings.top_p,
        loss_type="dr_grpo", scale_rewards="none", num_iterations=1,
        reward_weights=list(weights.as_array()),
        bf16=False, use_cpu=True, report_to="none", activation_checkpointing=False,
        logging_steps=1, save_strategy="no", seed=settings.seed, data_seed=settings.seed,
        dataloader_num_workers=0, disable_tqdm=not progress, shuffle_dataset=True,
    )
    overrides = dict(overrides or {})
    if "per_device_train_batch_size" in overrides and "gradient_accumulation_steps" not in overrides:
        per_step = int(overrides["per_device_train_batch_size"]) * num_processes
        if per_step < 1 or total % per_step:
            raise ValueError(
                f"users_per_step x num_generations = {total} lists per step is not a multiple "
                f"of per_device_train_batch_size x processes = {per_step}")
        overrides["gradient_accumulation_steps"] = total // per_step
    if overrides.get("gradient_checkpointing"):  # TRL's name on CPU and GPU alike
        overrides["activation_checkpointing"] = overrides.pop("gradient_checkpointing")
    return GRPOConfig(**{**args, **overrides})


def completion_logits(model, input_ids, attention_mask, logits_to_keep: int):
    """The logits that predict the last ``logits_to_keep`` tokens of each row, each distinct
    prompt read once.

    A GRPO batch holds ``G`` completions of each prompt: ``input_ids`` is the left-padded
    prompts followed by the completions (the last ``logits_to_keep`` columns). The decoder
    reads each distinct prompt (ids and mask) once and keeps its keys and values, the
    cache is gathered to one row per completion, and the decoder reads the completions
    after it, at the positions they have in the whole row. The result equals
    ``model(input_ids, attention_mask, logits_to_keep=logits_to_keep + 1).logits[:, :-1]``
    to float precision, with its gradients (``tests/test_policy.py``), for a fraction of
    the work: a prompt of ~270 tokens is read once, not ``G`` times. A model without a
    separate decoder and LM head (or with a soft-capped head) is run whole.
    """
    import torch

    split = decoder_and_head(model)
    width = input_ids.size(1) - logits_to_keep
    if split is None or width < 1:
        return model(input_ids=input_ids, attention_mask=attention_mask,
                     logits_to_keep=logits_to_keep + 1).logits[:, :-1]
    decoder, head = split
    ids, mask, owner = distinct_rows(input_ids[:, :width], attention_mask[:, :width])
    read = decoder(input_ids=ids, attention_mask=mask, use_cache=True)
    cache = read.cache
    cache.reorder_cache(owner)
    hidden = decoder(input_ids=input_ids[:, width:], attention_mask=attention_mask,
                     cache=cache, use_cache=True).last_hidden_state
    last = read.last_hidden_state[:, -1:][owner]
    return head(torch.cat([last, hidden[:, :-1]], dim=1))


def guarded_log_probs(logits, targets, allowed=None, temperature: float = 1.0,
                      compute_entropy: bool = False, valid=None):
    """Per-token log-probabilities of ``targets`` (and the entropies) under the policy's
    sampling distribution: ``log_softmax(logits / temperature)`` over the tokens the guard
    ``allowed`` at each position (all of them when None), as the sampler drew them.

    Only positions that are ``valid`` (inside the completion; all when None) and where
    the guard left a choice are computed; the others are 0 (a forced token has
    log-probability 0 and no gradient), which spares the softmax over the vocabulary
    at the padding and at the tags the grammar forces.
    """
    import torch

    batch, length, _ = logits.shape
    free = torch.ones(batch, length, dtype=torch.bool, device=logits.device)
    if valid is not None:
        free &= valid
    if allowed is not None:
        free &= allowed.sum(-1) > 1
    token = torch.zeros(batch, length, dtype=torch.float32, device=logits.device)
    entropy = torch.zeros_like(token) if compute_entropy else None
    if not bool(free.any()):
        return token + logits.sum() * 0.0, entropy  # keeps the graph for backward
    rows = logits[free].float()
    if allowed is not None:
        rows = rows.masked_fill(~allowed[free], float("-inf"))
    log_probs = torch.log_softmax(rows / temperature, dim=-1)
    token = token.index_put((free,), log_probs.gather(-1, targets[free].unsqueeze(-1)).squeeze(-1))
    if compute_entropy:
        safe = torch.where(torch.isfinite(log_probs), log_probs, torch.zeros_like(log_probs))
        entropy = entropy.index_put((free,), -(safe.exp() * safe).sum(-1).detach())
    return token, entropy


def cpu_logprob_trainer_class(guard: bool = False):
    """``trl.GRPOTrainer`` whose log-probabilities are those of the distribution its rollouts
    were sampled from, read from plain logits.

    With ``guard`` (the policy decodes under :class:`~newsstudy.policy.decoding.DuplicateQueryGuard`),
    the rollouts were drawn from the logits masked by the guard and renormalised; so are the
    log-probabilities of the loss, its KL term and the reference model's
    (:func:`newsstudy.policy.decoding.guard_allowed` replays the guard over each completion;
    a forced token has log-probability 0 and no gradient). Without that, the policy gradient
    would push up tokens the guard forced anyway and the KL would compare distributions
    that were never sampled (per-step KL spikes of 15 to 10^4 before). Text inputs take
    this path on any device (each distinct prompt of a batch read once:
    :func:`completion_logits`); images or MoE auxiliary losses run TRL's method unchanged.
    Positions outside a sequence's attention mask get log-probability and entropy 0, as in
    TRL.
    """
    import torch
    from trl import GRPOTrainer

    from newsstudy.policy.decoding import guard_allowed

    class CPULogprobGRPOTrainer(GRPOTrainer):
        _allowed_memo: tuple = ((), None)

        def _allowed(self, ids, completion_length: int, vocabulary: int):
            """The guard's masks of these rollouts (:func:`guard_allowed`), kept for the
            next call on the same ids: the reference model's log-probabilities and the
            policy's read the same batch."""
            key = (tuple(ids.shape), completion_length, vocabulary,
                   hash(ids.detach().cpu().numpy().tobytes()))
            if self._allowed_memo[0] != key:
                self._allowed_memo = (key, guard_allowed(
                    self.processing_class, ids, completion_length, self.max_completion_length,
                    vocabulary))
            return self._allowed_memo[1]

        def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask,
                                               logits_to_keep, batch_size=None,
                                               compute_entropy=False, compute_aux_loss=False,
                                               **multimodal):
            if (compute_aux_loss or any(value is not None for value in multimodal.values())
                    or (input_ids.device.type != "cpu" and not guard)):
                return super()._get_per_token_logps_and_entropies(
                    model, input_ids, attention_mask, logits_to_keep, batch_size,
                    compute_entropy, compute_aux_loss, **multimodal)
            batch_size = batch_size or input_ids.size(0)
            logps, entropies = [], []
            for start in range(0, input_ids.size(0), batch_size):
                ids = input_ids[start:start + batch_size]
                mask = attention_mask[start:start + batch_size]
                with self.accelerator.autocast():
                    logits = completion_logits(model, ids, mask, logits_to_keep)
                allowed = self._allowed(ids, logits_to_keep, logits.size(-1)) if guard else None
                valid = mask[:, -logits_to_keep:].bool()
                token, entropy = guarded_log_probs(logits, ids[:, -logits_to_keep:], allowed,
                                                   self.temperature, compute_entropy, valid)
                logps.append(token.masked_fill(~valid, 0.0))
                if compute_entropy:
                    entropies.append(entropy.masked_fill(~valid, 0.0))
            return (torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None)

    return CPULogprobGRPOTrainer


def train_grpo(model, tokenizer, scorer: RewardScorer, prompts: Mapping[int, str],
               settings: GRPOSettings, weights: RewardWeights, output_dir: str,
               progress: bool = True, peft_config=None, label: str = "Dr.GRPO",
               config_overrides: Mapping | None = None,
               trainer_class=None) -> tuple[object, list[dict]]:
    """Train ``model`` with Dr.GRPO on the given users' prompts; return it and the logs.

    ``peft_config`` (e.g. ``peft.LoraConfig``) trains adapters instead of every weight
    (TRL's ``GRPOTrainer(peft_config=...)``); the adapters are merged into the returned
    model, so callers save and load a plain model either way. ``None``: full fine-tuning.
    Without ``progress`` (a bar), the run reports its steps as ``label`` lines on the
    terminal (:mod:`newsstudy.policy.quiet`). ``config_overrides``: ``GRPOConfig`` arguments for GPUs (see :func:`grpo_config`); under
    ``accelerate launch`` the number of processes comes from accelerate. ``trainer_class``
    replaces :func:`cpu_logprob_trainer_class` (e.g. ``trl.GRPOTrainer``, to compare).
    """
    from datasets import Dataset
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    processes = 1
    if config_overrides:
        from accelerate import PartialState

        processes = PartialState().num_processes
    config = grpo_config(settings, weights, output_dir, progress, config_overrides, processes)
    users = list(prompts)
    dataset = Dataset.from_dict({"prompt": [prompts[u] for u in users],
                                 "user_id": [int(u) for u in users]})
    own = trainer_class is None
    trainer_class = trainer_class or cpu_logprob_trainer_class(settings.duplicate_guard)
    trainer = trainer_class(model=model, reward_funcs=reward_functions(scorer), args=config,
                          train_dataset=dataset, processing_class=tokenizer,
                          peft_config=peft_config)
    if not progress:
        quiet(trainer, label)
    # TRL's own path (a trainer_class given) samples every row whole, as TRL does
    shared = prompts_read_once(trainer.model) if own else contextlib.nullcontext()
    with guarded(trainer.model, tokenizer, settings.duplicate_guard), shared:
        trainer.train()
    trained = trainer.model
    if peft_config is not None:
        trained = trained.merge_and_unload()
    return trained, list(trainer.state.log_history)


def training_curves(log_history: Sequence[Mapping]) -> pd.DataFrame:
    """Per-step curves from TRL's logs: total and per-reward means, length, entropy, KL."""
    rows = [h for h in log_history if "reward" in h]
    frame = pd.DataFrame(rows)
    columns = {"step": "step", "reward": "total reward",
               "completions/mean_length": "completion length", "entropy": "entropy",
               "kl": "kl"}
    from newsstudy.rewards.verifiable import REWARD_NAMES as VERIFIABLE_NAMES

    columns.update({f"rewards/r_{n}/mean": f"R_{n}"
                    for n in dict.fromkeys([*REWARD_NAMES, *VERIFIABLE_NAMES])})
    present = {k: v for k, v in columns.items() if k in frame.columns}
    return frame[list(present)].rename(columns=present)
