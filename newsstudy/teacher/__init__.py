"""The policy pipeline of notebook 03: tokenizer -> SFT warm start -> Dr.GRPO teacher.

Every stage is cached in ``artifacts/<profile>/models/`` under the hash of the exact
configuration that produced it (world, tokenizer, model, data and every hyper-parameter),
so re-running a notebook with the same parameters loads checkpoints instead of training,
and changing one parameter retrains only what depends on it. Checkpoints are safetensors
folders marked complete only after everything is written (``newsstudy.policy.checkpoints``).

Small models train and generate on one torch thread: as fast as two on an idle 2-core
machine, and 5-100x faster when another process holds the other core.

``settings.model`` is a ladder size (a model trained from scratch with its own word-level
tokenizer and plain-text prompts) or a pretrained instruct model
(:mod:`newsstudy.policy.pretrained`: a registry name such as ``smollm2-135m-instruct``, or
a local Hugging Face folder). A pretrained model keeps its own tokenizer, reads its prompts
through its chat template, uses every torch thread, and, with ``sft_epochs = 0``, *is* the
prompt-only policy (no warm start: the paper's prompt-only row is the instruct model as
released). ``lora_rank > 0`` trains LoRA adapters (merged into the saved checkpoint)
instead of every weight, in SFT and in Dr.GRPO.

Simplifications, stated once: the SFT warm start is trained once (the first seed) and
every GRPO seed starts from it; training users are a seeded sample of the world's
training split; evaluation decodes as serving does: one list per user (N = 1), sampled with the
policy's decoding (:mod:`newsstudy.policy.decoding`), seeded.
"""

from __future__ import annotations

from newsstudy import lazy

# The body (pipeline.py) imports torch and TRL; it is imported on first use of one of its names.
__getattr__, __dir__ = lazy.forward(__name__, "pipeline")
