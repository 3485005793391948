"""newsstudy: a reproducible study of LLM interest reasoning and distillation for
cross-domain news recommendation (arXiv:2602.15005).

The library does the work; the notebooks in ``notebooks/`` call it and tell the story.
"""

__version__ = "0.1.0"


def _silence_noise() -> None:
    """Warnings the libraries raise that are not a reader's business, silenced here by
    their exact text, so that every other warning still shows:

    - tqdm's ``IProgress not found``: a notebook kernel without ipywidgets; the bars fall
      back to text, as on a terminal.
    - transformers' ``is_gradient_checkpointing`` deprecation, raised by TRL's trainers
      on every training step.
    - Hugging Face's bars for writing checkpoint shards and mapping datasets (the
      training runs report their own steps, :mod:`newsstudy.policy.quiet`).
    """
    import os
    import warnings

    # the bars of saving a checkpoint and of mapping a dataset, inside training cells
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", message="IProgress not found")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.* is deprecated",
                            category=FutureWarning)


_silence_noise()
