"""The query-writing policy: tokenizer, model ladder, prompts, generation, SFT, storage.

The default path trains small Llama-style causal LMs from scratch (no download): a BPE
tokenizer fitted to the world's text (:mod:`.tokenizer`), a ladder of sizes
(:mod:`.ladder`), plain-text prompts built from a user's cleaned signals
(:mod:`.prompts`), batched sampling (:mod:`.generate`), the SFT warm start on surface
demonstrations (:mod:`.sft`) and a content-addressed checkpoint store
(:mod:`.checkpoints`). Any Hugging Face causal-LM path that is available offline can
stand in for a ladder size.

Submodules are imported on use (``from newsstudy.policy import ladder``) so that importing
the package stays cheap.
"""
