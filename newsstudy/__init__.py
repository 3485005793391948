"""newsstudy: a reproducible study of LLM interest reasoning and distillation for
cross-domain news recommendation (arXiv:2602.15005).

The library does the work; the notebooks in ``notebooks/`` call it and tell the story.
"""

__version__ = "0.1.0"
