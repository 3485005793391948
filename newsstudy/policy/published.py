"""Published policies: how one notebook hands a trained query writer to the next.

A notebook that trains a query-writing policy publishes it for later notebooks as
``artifacts/<profile>/published/<name>.json``::

    {"checkpoint": "<path of the PolicyStore folder>", "max_prompt_chars": 600,
     "source_notebook": "05_distillation"}

``checkpoint`` is absolute, or relative to the artifacts root (the folder holding
``<profile>/``), or else to the profile's own artifacts folder. 03_grpo publishes
``prompt_only`` and ``teacher``, 04_scaling ``distillation-teacher`` and 05_distillation
``student``. :func:`load_published` reads the file and says which notebook to run when it
is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsstudy import paths
from newsstudy.io import config_hash, read_json, sha256_file, write_json
from newsstudy.schemas import PUBLISHED_POLICIES

PUBLISHERS = PUBLISHED_POLICIES
"""Published policy name -> the notebook that publishes it."""


class PolicyNotPublished(FileNotFoundError):
    """No published policy of that name for the profile (its notebook has not run)."""


@dataclass(frozen=True)
class PublishedPolicy:
    """A policy another notebook published: where its checkpoint is and how to prompt it."""

    name: str
    checkpoint: Path
    max_prompt_chars: int
    source_notebook: str
    max_prompt_signals: int
    decoding: dict | None  # newsstudy.policy.decoding.Decoding fields; None: greedy
    prompt_candidates: int  # interest candidates its prompt offers (policy.interests)


def published_path(profile: str, name: str) -> Path:
    """``artifacts/<profile>/published/<name>.json``."""
    return paths.profile_artifacts(profile) / "published" / f"{name}.json"


def publish_policy(profile: str, name: str, checkpoint: str | Path, max_prompt_chars: int,
                   source_notebook: str, max_prompt_signals: int, decoding: dict | None,
                   prompt_candidates: int) -> Path:
    """Write the published-policy file (atomically); return its path.

    ``max_prompt_signals``, ``prompt_candidates`` and ``decoding`` (the policy's own, e.g.
    ``PolicyPipeline.decoding.as_dict()``) make the treatment prompt and decode the
    policy as it was trained and served.
    """
    return write_json(published_path(profile, name), {
        "checkpoint": paths.portable(checkpoint), "max_prompt_chars": int(max_prompt_chars),
        "source_notebook": source_notebook, "max_prompt_signals": int(max_prompt_signals),
        "prompt_candidates": int(prompt_candidates), "decoding": decoding})


def _resolve_checkpoint(profile: str, text: str) -> Path:
    path = Path(text)
    if path.is_absolute():
        return path
    for root in (paths.artifacts_root(), paths.profile_artifacts(profile)):
        if (root / path).exists():
            return root / path
    return paths.artifacts_root() / path


def load_published(profile: str, name: str) -> PublishedPolicy:
    """The published policy ``name`` of ``profile``; a clear error if it is not there."""
    path = published_path(profile, name)
    if name not in PUBLISHERS and not path.is_file():
        raise PolicyNotPublished(
            f"no published policy {name!r} for profile {profile!r} ({path}), and no notebook "
            f"publishes one by that name; the published policies are "
            f"{', '.join(sorted(PUBLISHERS))}")
    notebook = PUBLISHERS.get(name, "its notebook")
    if not path.is_file():
        raise PolicyNotPublished(
            f"no published policy {name!r} for profile {profile!r} ({path}): run {notebook} "
            f"for profile {profile} first (newsstudy run {notebook} --profile {profile})")
    meta = read_json(path)
    missing = [key for key in ("checkpoint", "max_prompt_chars", "source_notebook",
                               "max_prompt_signals", "prompt_candidates", "decoding")
               if key not in meta]
    if missing:
        raise ValueError(f"{path}: missing key {missing[0]!r}")
    checkpoint = _resolve_checkpoint(profile, str(meta["checkpoint"]))
    from newsstudy.policy.checkpoints import PolicyStore

    if not PolicyStore.is_complete(checkpoint):
        raise PolicyNotPublished(
            f"{path} points at {checkpoint}, which is not a complete checkpoint: re-run "
            f"{meta['source_notebook']} for profile {profile}")
    return PublishedPolicy(name=name, checkpoint=checkpoint,
                           max_prompt_chars=int(meta["max_prompt_chars"]),
                           source_notebook=str(meta["source_notebook"]),
                           max_prompt_signals=int(meta["max_prompt_signals"]),
                           prompt_candidates=int(meta["prompt_candidates"]),
                           decoding=meta["decoding"])


def checkpoint_fingerprint(checkpoint: Path) -> str:
    """Hash of a checkpoint's bytes (weights, tokenizer, metadata): changes when it does."""
    files = sorted(p for p in Path(checkpoint).iterdir() if p.is_file())
    return config_hash({p.name: sha256_file(p) for p in files})
