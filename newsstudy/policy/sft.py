"""Supervised warm start: TRL's ``SFTTrainer`` on prompt-completion pairs, on the CPU.

The loss is on completion tokens only (``completion_only_loss=True``): the policy learns
to write, not to predict its prompts. Every completion ends with the tokenizer's eos so
generation learns to stop. No packing (sequences are short and prompt masks must stay
clean), no checkpoints written by the trainer (the caller stores the model with
:class:`~newsstudy.policy.checkpoints.PolicyStore`), fp32, no gradient checkpointing.

The loss is the model's own shifted cross-entropy over the completion tokens (the
collator masks prompt tokens with -100), not TRL's default fused LM-head kernel: the two
agree to float precision, and TRL's chunked kernel, written to save GPU memory on large
vocabularies, is about 3x slower per step for this study's small models on a CPU. TRL's
per-step entropy and token-accuracy logs are dropped with it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence


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

    decoder = getattr(model, "get_decoder", lambda: None)()
    head = getattr(model, "get_output_embeddings", lambda: None)()
    if decoder is None or head is None or getattr(model.config, "final_logit_softcapping", None):
        full = {**inputs, **({"num_items_in_batch": num_items_in_batch}
                             if num_items_in_batch is not None else {})}
        return model(**full).loss
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


def train_sft(model, tokenizer, prompts: Sequence[str], completions: Sequence[str], lr: float,
              epochs: float, batch_size: int, seed: int, output_dir: str | os.PathLike,
              max_length: int = 384, progress: bool = True, logging_steps: int | None = None,
              warmup_ratio: float = 0.05, callbacks=None, peft_config=None,
              trainer_class=None):
    """Fine-tune ``model`` in place on ``(prompt, completion)`` pairs.

    Returns ``(model, log_history)``; ``log_history`` is the trainer's list of logged
    dicts (``loss``, ``learning_rate``, ``epoch``, ``step``, ... and a final summary with
    ``train_runtime``), for training curves. ``logging_steps`` defaults to about 20 logs
    over the run. A cosine schedule with ``warmup_ratio`` of linear warm-up. ``callbacks``:
    extra ``transformers.TrainerCallback`` objects (e.g. a periodic evaluation).
    ``peft_config`` (e.g. ``peft.LoraConfig``) trains adapters instead of every weight;
    they are merged into the returned model, so callers save and load a plain model.
    ``trainer_class`` replaces :func:`plain_loss_trainer_class` (e.g. ``trl.SFTTrainer`` to
    compare with TRL's own loss).
    """
    from datasets import Dataset
    from trl import SFTConfig

    if len(prompts) != len(completions) or not prompts:
        raise ValueError(f"need as many prompts as completions (> 0), got {len(prompts)} "
                         f"and {len(completions)}")
    eos = tokenizer.eos_token
    completions = [c if c.endswith(eos) else c + eos for c in completions]
    steps = math.ceil(len(prompts) / batch_size) * math.ceil(epochs)
    config = SFTConfig(
        output_dir=str(output_dir), learning_rate=lr, num_train_epochs=epochs,
        per_device_train_batch_size=batch_size, seed=seed, data_seed=seed,
        max_length=max_length, completion_only_loss=True, packing=False,
        lr_scheduler_type="cosine", warmup_steps=max(0, round(warmup_ratio * steps)),
        bf16=False, fp16=False, use_cpu=True, activation_checkpointing=False,
        report_to="none", save_strategy="no", eval_strategy="no",
        logging_steps=logging_steps or max(1, steps // 20), logging_first_step=True,
        dataloader_num_workers=0, disable_tqdm=not progress, dataset_num_proc=None,
    )
    dataset = Dataset.from_dict({"prompt": list(prompts), "completion": completions})
    trainer = (trainer_class or plain_loss_trainer_class())(model=model, args=config, train_dataset=dataset,
                         processing_class=tokenizer, callbacks=callbacks,
                                         peft_config=peft_config)
    if not progress:
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
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

    The held-out counterpart of the training loss: each pair is the prompt's ids followed
    by the completion's ids and the eos id; only completion tokens (eos included) are
    scored. Batched with right padding (:func:`right_padded`) under
    ``torch.inference_mode``; the model's mode is restored. NaN when there is no completion token.
    """
    import torch

    if len(prompts) != len(completions):
        raise ValueError(f"need as many prompts as completions, got {len(prompts)} "
                         f"and {len(completions)}")
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    completion_ids = [ids + [tokenizer.eos_token_id] for ids in
                      tokenizer(list(completions), add_special_tokens=False)["input_ids"]]
    pairs = sorted(zip(prompt_ids, completion_ids, strict=True), key=lambda p: len(p[0]) + len(p[1]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.inference_mode():
            for start in range(0, len(pairs), batch_size):
                ids, attention, scored = right_padded(pairs[start:start + batch_size], pad_id)
                logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits
                log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
                picked = log_probs.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
                total -= float(picked[scored].sum())
                count += int(scored.sum())
    finally:
        model.train(was_training)
    return total / count if count else math.nan
