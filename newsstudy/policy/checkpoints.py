"""Content-addressed policy checkpoints: safetensors weights, never pickles.

A checkpoint lives in ``<root>/<kind>-<config_hash>/``: the model (``save_pretrained``,
safetensors), its tokenizer, and ``complete.json`` (the metadata, written last). Saving
goes to a staging folder ``.<name>.partial`` that is renamed into place only when
everything is written, so an interrupted save never looks complete, and a later
``cached`` call simply trains again.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newsstudy.io import config_hash, damaged_files, read_json, sha256_file, write_json

COMPLETE = "complete.json"


class PolicyStore:
    """Checkpoints under ``root``, one folder per (kind, configuration)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path_for(self, kind: str, config: dict) -> Path:
        """``<root>/<kind>-<config_hash(config)>``: the folder a configuration's model uses."""
        if not kind or any(ch in kind for ch in "/\\. "):
            raise ValueError(f"kind must be a plain name (no '/', '\\\\', '.', space): {kind!r}")
        return self.root / f"{kind}-{config_hash(config)}"

    @staticmethod
    def is_complete(path: str | os.PathLike) -> bool:
        """True when the folder holds a fully saved, undamaged checkpoint.

        The marker file (written last) must read, and every file it lists must still have
        its recorded sha256: a truncated or altered checkpoint counts as missing (and is
        retrained by :meth:`cached`), with a warning.
        """
        marker = Path(path) / COMPLETE
        if not marker.is_file():
            return False
        try:
            files = read_json(marker).get("files", {})
        except (ValueError, OSError, AttributeError):
            warnings.warn(f"checkpoint {path}: unreadable {COMPLETE}, treated as missing",
                          stacklevel=2)
            return False
        damaged = damaged_files(path, files)
        if damaged:
            warnings.warn(f"checkpoint {path}: {', '.join(damaged)} damaged, treated as missing",
                          stacklevel=2)
            return False
        return True

    def save(self, path: str | os.PathLike, model, tokenizer, meta: dict[str, Any]) -> Path:
        """Save model, tokenizer and ``meta`` to ``path`` atomically (staging, then rename)."""
        path = Path(path)
        staging = path.with_name(f".{path.name}.partial")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        model.save_pretrained(str(staging))  # safetensors: the only format transformers 5 writes
        tokenizer.save_pretrained(str(staging))
        files = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
        write_json(staging / COMPLETE, {**meta, "files": files})  # last: marks it complete
        if path.is_symlink():  # a variant's link to its base's checkpoint: replace the link
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
        staging.rename(path)
        return path

    @staticmethod
    def load(path: str | os.PathLike):
        """``(model, tokenizer, meta)`` of a complete checkpoint (safetensors only)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not PolicyStore.is_complete(path):
            raise FileNotFoundError(f"no complete checkpoint in {path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = AutoModelForCausalLM.from_pretrained(
            str(path), use_safetensors=True, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        return model, tokenizer, read_json(path / COMPLETE)

    def cached(self, kind: str, config: dict,
               train_fn: Callable[[], tuple[Any, Any, dict[str, Any]]]) -> Path:
        """The checkpoint of ``(kind, config)``: reused if complete, else ``train_fn()`` saved.

        ``train_fn`` returns ``(model, tokenizer, meta)``; ``kind`` and ``config`` are
        added to the saved metadata.
        """
        path = self.path_for(kind, config)
        if self.is_complete(path):
            return path
        model, tokenizer, meta = train_fn()
        state = _distributed_state()
        if state is None:
            return self.save(path, model, tokenizer, {**meta, "kind": kind, "config": config})
        if state.is_main_process:  # under `accelerate launch`: one process writes
            self.save(path, model, tokenizer, {**meta, "kind": kind, "config": config})
        state.wait_for_everyone()
        return path


def _distributed_state():
    """accelerate's process state when several processes run (``accelerate launch``), else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState()
