"""Supervised warm start: TRL's ``SFTTrainer`` on prompt-completion pairs, on the CPU.

The loss is on completion tokens only: the policy learns to write, not to predict its
prompts. Every completion ends with the tokenizer's eos so generation learns to stop. No
trainer checkpoints (the caller stores the model with
:class:`~newsstudy.policy.checkpoints.PolicyStore`), fp32, no gradient checkpointing.

**Shared prompts.** A recipe gives each user several demonstrations of one prompt (the
default teacher: two), and a prompt of ~270 tokens is more than ten times longer than a
list of ~20. Training rows are therefore distinct prompts, each with its completions
(:func:`prompt_groups`): the decoder reads a prompt once, keeps its keys and values, and
reads each completion after them (:func:`shared_prompt_loss`), instead of reading the
prompt once per completion. The loss, the sum of the completion tokens' cross-entropies
over the batch divided by their number, and its gradients are those of the pairs padded
one per row, to float precision (``tests/test_policy.py``); a step of the default
teacher's xl size takes about half the time (``benchmarks/bench_sft.py``). A step takes
``batch_size`` completions' worth of rows (``batch_size`` divided by the mean number of
completions per prompt).

The loss is computed from the model's hidden states with the LM head applied only where
a completion token is predicted, not with TRL's default fused LM-head kernel: the two
agree to float precision, and TRL's chunked kernel, written to save GPU memory on large
vocabularies, is about 3x slower per step for this study's small models on a CPU. TRL's
per-step entropy and token-accuracy logs are dropped with it. ``train_sft(...,
trainer_class=...)`` runs the pairs one per row through TRL's own dataset preparation
instead (for the comparisons of the benchmark and the tests).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

ROWS = "shared-prompts-2"
"""How :func:`train_sft` forms its rows and steps (in the warm start's cache key): each
distinct prompt with its completions, ``batch_size`` completions' worth a step. Version 2:
a prompt longer than ``max_length`` keeps no completion token, as TRL's cut of the whole
sequence keeps none (version 1 kept a completion's first tokens after the cut prompt)."""


def decoder_and_head(model):
    """``(decoder, LM head)`` of a causal LM whose head may be applied to chosen hidden
    states alone, else None (no ``get_decoder``/``get_output_embeddings``, or a soft-capped
    head): the split the study's CPU losses and log-probabilities rely on."""
    decoder = getattr(model, "get_decoder", lambda: None)()
    head = getattr(model, "get_output_embeddings", lambda: None)()
    if decoder is None or head is None or getattr(model.config, "final_logit_softcapping", None):
        return None
    return decoder, head


def completion_head_loss(model, inputs, num_items_in_batch=None):
    """The causal-LM loss of ``model(**inputs).loss``, with the LM head applied only where
    it is scored.

    transformers' loss computes logits at every position, prompt included, then ignores
    those whose label is -100. Here the decoder runs on the whole sequence as usual, but
    the LM head (a ``hidden x vocabulary`` product per position, most of the work of a
    small model with a 4,096-word vocabulary) runs only on the positions that predict a
    completion token. The loss is the same sum of token cross-entropies divided by
    ``num_items_in_batch`` (else by the number of scored tokens), equal to the full
    computation to float precision (``tests/test_policy.py`` compares loss and gradients).
    Models without a separate decoder and head (``get_decoder``/``get_output_embeddings``)
    fall back to ``model(**inputs).loss``.
    """
    import torch

    split = decoder_and_head(model)
    if split is None:
        full = {**inputs, **({"num_items_in_batch": num_items_in_batch}
                             if num_items_in_batch is not None else {})}
        return model(**full).loss
    decoder, head = split
    labels = inputs["labels"]
    hidden = decoder(**{key: value for key, value in inputs.items() if key != "labels"}
                     ).last_hidden_state
    targets = labels[:, 1:]
    scored = targets != -100
    logits = head(hidden[:, :-1][scored]).float()
    total = torch.nn.functional.cross_entropy(logits, targets[scored], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else scored.sum()
    if isinstance(count, torch.Tensor):
        count = count.to(total.device)
    return total / count


def plain_loss_trainer_class():
    """``trl.SFTTrainer`` with the loss computed from the model's logits (see module doc).

    The loss is transformers' causal-LM cross-entropy over the labelled (completion)
    tokens, divided by ``num_items_in_batch`` when the trainer passes it (the number of
    labelled tokens in the batch), else by the mean; the LM head runs only on the labelled
    positions (:func:`completion_head_loss`).
    """
    from trl import SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = {**inputs, "use_cache": False}
            if return_outputs:
                if num_items_in_batch is not None:
                    inputs["num_items_in_batch"] = num_items_in_batch
                outputs = model(**inputs)
                return outputs.loss, outputs
            return completion_head_loss(model, inputs, num_items_in_batch)

    return PlainLossSFTTrainer


def prompt_groups(tokenizer, prompts: Sequence[str], completions: Sequence[str],
                  max_length: int | None = None) -> dict[str, list]:
    """The pairs as training rows: each distinct prompt once, with all its completions.

    Returns ``{"prompt_ids": [...], "completion_ids": [[...], ...]}``, one entry per
    distinct prompt in first-seen order; completions keep their order and end with the
    eos id (appended if the text does not end with the eos token). ``max_length`` cuts
    each pair as ``SFTConfig(max_length=...)`` cuts a prompt-completion sequence, keeping
    its start: the prompt to ``max_length`` tokens and the completion to what is left; a
    completion left with no token is dropped, and a prompt left with no completion.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"need as many prompts as completions, got {len(prompts)} "
                         f"and {len(completions)}")
    eos = tokenizer.eos_token
    grouped: dict[str, list[str]] = {}
    for prompt, completion in zip(prompts, completions, strict=True):
        grouped.setdefault(prompt, []).append(completion if completion.endswith(eos)
                                              else completion + eos)
    distinct = list(grouped)
    prompt_ids = tokenizer(distinct, add_special_tokens=False)["input_ids"] if distinct else []
    rows: dict[str, list] = {"prompt_ids": [], "completion_ids": []}
    for prompt, ids in zip(distinct, prompt_ids, strict=True):
        ids = ids[:max_length]  # [:None] keeps every token
        budget = None if max_length is None else max_length - len(ids)  # >= 0
        kept = [c[:budget] for c in tokenizer(grouped[prompt], add_special_tokens=False)[
            "input_ids"]]
        kept = [c for c in kept if c]
        if kept:
            rows["prompt_ids"].append(ids)
            rows["completion_ids"].append(kept)
    return rows


def collate_prompt_groups(rows: Sequence[Mapping], pad_id: int) -> dict:
    """One batch of :func:`prompt_groups` rows as tensors.

    ``prompt_ids``/``prompt_mask`` (rows x longest prompt, right-padded);
    ``completion_ids``/``completion_mask`` (completions x longest completion,
    right-padded, every completion of every row in order); ``owner``: the row of each
    completion; ``completion_labels``: the completion ids with -100 at the pads.
    """
    import torch

    prompts = [list(row["prompt_ids"]) for row in rows]
    owned = [(i, list(c)) for i, row in enumerate(rows) for c in row["completion_ids"]]
    prompt_ids = torch.full((len(prompts), max(map(len, prompts))), pad_id, dtype=torch.long)
    prompt_mask = torch.zeros_like(prompt_ids)
    for i, ids in enumerate(prompts):
        prompt_ids[i, :len(ids)] = torch.tensor(ids)
        prompt_mask[i, :len(ids)] = 1
    width = max(len(c) for _, c in owned)
    completion_ids = torch.full((len(owned), width), pad_id, dtype=torch.long)
    completion_mask = torch.zeros_like(completion_ids)
    for j, (_, ids) in enumerate(owned):
        completion_ids[j, :len(ids)] = torch.tensor(ids)
        completion_mask[j, :len(ids)] = 1
    return {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask,
            "completion_ids": completion_ids, "completion_mask": completion_mask,
            "owner": torch.tensor([i for i, _ in owned], dtype=torch.long),
            "completion_labels": completion_ids.masked_fill(completion_mask == 0, -100)}


def shared_prompt_loss(model, batch: Mapping):
    """Mean cross-entropy of a :func:`collate_prompt_groups` batch's completion tokens,
    each prompt read once (see the module doc).

    The decoder reads the right-padded prompts and keeps their keys and values; the cache
    is gathered to one row per completion (``owner``) and the decoder reads the
    completions after it, at the positions that follow each prompt, attending to its
    prompt's tokens (not its pads) and causally to its own. The prompt's last hidden state
    predicts a completion's first token. Equal, loss and gradients, to reading each pair
    as one right-padded sequence. A model without a separate decoder and LM head (or with
    a soft-capped head) reads the pairs one per row with its own loss.
    """
    total, count = shared_prompt_nll(model, batch)
    return total / count


def shared_prompt_nll(model, batch: Mapping):
    """``(summed cross-entropy, number of tokens)`` of a :func:`collate_prompt_groups`
    batch's completion tokens, each prompt read once (:func:`shared_prompt_loss`)."""
    import torch

    prompt_mask, owner = batch["prompt_mask"], batch["owner"]
    completion_ids, completion_mask = batch["completion_ids"], batch["completion_mask"]
    labels = batch["completion_labels"]
    count = (labels != -100).sum()
    split = decoder_and_head(model)
    if split is None:
        return _pairs_loss(model, batch) * count, count
    decoder, head = split
    lengths = prompt_mask.sum(dim=1)
    read = decoder(input_ids=batch["prompt_ids"], attention_mask=prompt_mask, use_cache=True)
    last = read.last_hidden_state[torch.arange(len(lengths)), lengths - 1]
    cache = read.cache
    cache.reorder_cache(owner)
    positions = lengths[owner].unsqueeze(1) + torch.arange(completion_ids.shape[1]).unsqueeze(0)
    hidden = decoder(input_ids=completion_ids,
                     attention_mask=torch.cat([prompt_mask[owner], completion_mask], dim=1),
                     position_ids=positions, cache=cache, use_cache=True
                     ).last_hidden_state
    cross_entropy = torch.nn.functional.cross_entropy
    total = cross_entropy(head(last[owner]).float(), labels[:, 0], reduction="sum")
    rest = labels[:, 1:]
    scored = rest != -100
    total = total + cross_entropy(head(hidden[:, :-1][scored]).float(), rest[scored],
                                  reduction="sum")
    return total, count


def _pairs_loss(model, batch: Mapping):
    """:func:`shared_prompt_loss` by reading each (prompt, completion) pair as one
    right-padded row with the model's own loss."""
    import torch

    prompt_lengths = batch["prompt_mask"].sum(dim=1)
    pairs = [(batch["prompt_ids"][i, :prompt_lengths[i]].tolist(),
              batch["completion_ids"][j, :int(batch["completion_mask"][j].sum())].tolist())
             for j, i in enumerate(batch["owner"].tolist())]
    ids, attention, scored = right_padded(pairs, 0)
    labels = torch.full_like(ids, -100)
    labels[:, 1:] = ids[:, 1:].masked_fill(~scored, -100)
    return model(input_ids=ids, attention_mask=attention, labels=labels, use_cache=False).loss


def shared_prompt_trainer_class():
    """``trl.SFTTrainer`` on :func:`prompt_groups` rows, with :func:`shared_prompt_loss`."""
    from trl import SFTTrainer

    class SharedPromptSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if return_outputs:
                raise NotImplementedError("shared-prompt SFT computes a loss, not outputs")
            return shared_prompt_loss(model, inputs)

    return SharedPromptSFTTrainer


def train_sft(model, tokenizer, prompts: Sequence[str], completions: Sequence[str], lr: float,
              epochs: float, batch_size: int, seed: int, output_dir: str | os.PathLike,
              max_length: int = 384, progress: bool = True, logging_steps: int | None = None,
              label: str = "SFT",
              warmup_ratio: float = 0.05, callbacks=None, peft_config=None,
              trainer_class=None):
    """Fine-tune ``model`` in place on ``(prompt, completion)`` pairs.

    Rows are distinct prompts with their completions (:func:`prompt_groups`), each prompt
    read once per step (:func:`shared_prompt_loss`); a step takes ``batch_size``
    completions' worth of rows (at least one). Returns ``(model, log_history)``;
    ``log_history`` is the trainer's list of logged dicts (``loss``, ``learning_rate``,
    ``epoch``, ``step``, ... and a final summary with ``train_runtime``), for training
    curves. ``logging_steps`` defaults to about 20 logs over the run. A cosine schedule
    with ``warmup_ratio`` of linear warm-up. ``callbacks``: extra
    ``transformers.TrainerCallback`` objects (e.g. a periodic evaluation). ``peft_config``
    (e.g. ``peft.LoraConfig``) trains adapters instead of every weight; they are merged
    into the returned model, so callers save and load a plain model. ``trainer_class``
    (e.g. ``trl.SFTTrainer``, or :func:`plain_loss_trainer_class`) trains on the pairs one
    per row, prepared by TRL, instead (to compare with TRL's own loss).
    """
    from datasets import Dataset
    from trl import SFTConfig

    if len(prompts) != len(completions) or not prompts:
        raise ValueError(f"need as many prompts as completions (> 0), got {len(prompts)} "
                         f"and {len(completions)}")
    if trainer_class is None:
        rows = prompt_groups(tokenizer, prompts, completions, max_length)
        if not rows["prompt_ids"]:
            raise ValueError(f"no completion token is left within max_length={max_length}")
        n_completions = sum(map(len, rows["completion_ids"]))
        per_step = max(1, round(batch_size * len(rows["prompt_ids"]) / n_completions))
        dataset = Dataset.from_dict(rows)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        trainer_class = shared_prompt_trainer_class()
        extra = {"data_collator": lambda batch: collate_prompt_groups(batch, pad_id)}
        prepared = {"dataset_kwargs": {"skip_prepare_dataset": True},
                    "remove_unused_columns": False}
    else:
        eos = tokenizer.eos_token
        completions = [c if c.endswith(eos) else c + eos for c in completions]
        dataset = Dataset.from_dict({"prompt": list(prompts), "completion": completions})
        per_step, extra, prepared = batch_size, {}, {}
    steps = math.ceil(len(dataset) / per_step) * math.ceil(epochs)
    config = SFTConfig(
        output_dir=str(output_dir), learning_rate=lr, num_train_epochs=epochs,
        per_device_train_batch_size=per_step, seed=seed, data_seed=seed,
        max_length=max_length, completion_only_loss=True, packing=False,
        lr_scheduler_type="cosine", warmup_steps=max(0, round(warmup_ratio * steps)),
        bf16=False, fp16=False, use_cpu=True, activation_checkpointing=False,
        report_to="none", save_strategy="no", eval_strategy="no",
        logging_steps=logging_steps or max(1, steps // 20), logging_first_step=True,
        dataloader_num_workers=0, disable_tqdm=not progress, dataset_num_proc=None,
        **prepared,
    )
    trainer = trainer_class(model=model, args=config, train_dataset=dataset,
                            processing_class=tokenizer, callbacks=callbacks,
                            peft_config=peft_config, **extra)
    if not progress:
        from newsstudy.policy.quiet import quiet

        quiet(trainer, label)
    trainer.train()
    trained = trainer.model
    if peft_config is not None:
        trained = trained.merge_and_unload()
    return trained, list(trainer.state.log_history)


def right_padded(pairs: Sequence[tuple[list[int], list[int]]], pad_id: int):
    """One batch of (prompt ids, completion ids) pairs, right-padded: ``(ids, attention, scored)``.

    Every sequence keeps positions from 0 and causal attention never reaches the pads after
    it. ``scored[i, t]`` (one column fewer than ``ids``) is True where the logits at
    position ``t`` of row ``i`` predict a completion token, i.e. ``ids[i, t + 1]``.
    """
    import torch

    width = max(len(p) + len(c) for p, c in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(pairs), width), dtype=torch.long)
    scored = torch.zeros((len(pairs), width - 1), dtype=torch.bool)
    for row, (p, c) in enumerate(pairs):
        ids[row, :len(p) + len(c)] = torch.tensor(p + c)
        attention[row, :len(p) + len(c)] = 1
        scored[row, len(p) - 1:len(p) + len(c) - 1] = True
    return ids, attention, scored


def completion_loss(model, tokenizer, prompts: Sequence[str], completions: Sequence[str],
                    batch_size: int = 32) -> float:
    """Token-mean cross-entropy (nats) of ``completions`` given ``prompts``, as SFT trains it.

    The held-out counterpart of the training loss: each completion is followed by the eos
    and only completion tokens (eos included) are scored. Each distinct prompt is read
    once with all its completions (:func:`prompt_groups`, :func:`shared_prompt_nll`),
    ``batch_size`` prompts at a time, sorted by length, under ``torch.inference_mode``;
    the model's mode is restored. Equal, to float precision, to reading each pair as one
    sequence. NaN when there is no completion token.
    """
    import torch

    rows = prompt_groups(tokenizer, prompts, completions)
    order = sorted(range(len(rows["prompt_ids"])), key=lambda i: len(rows["prompt_ids"][i]))
    grouped = [{"prompt_ids": rows["prompt_ids"][i], "completion_ids": rows["completion_ids"][i]}
               for i in order]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.inference_mode():
            for start in range(0, len(grouped), batch_size):
                nll, tokens = shared_prompt_nll(
                    model, collate_prompt_groups(grouped[start:start + batch_size], pad_id))
                total += float(nll)
                count += int(tokens)
    finally:
        model.train(was_training)
    return total / count if count else math.nan
