"""Shared fixtures: a throwaway project (params/, notebooks/, reports/) under tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from pydantic import Field

from newsstudy import paths
from newsstudy.params import PROFILE, RECIPE
from newsstudy.schemas import SCHEMAS, NotebookParams

# Valid 01_data parameters for the smoke profile, every field given.
VALID_DATA_PARAMS: dict[str, Any] = {
    "profile": "smoke",
    "seed": 0,
    "n_users": 50,
    "history_days": 14,
    "test_days": 7,
    "events_per_day": 4.0,
    "noise_rate": 0.2,
    "cold_share": 0.2,
    "n_topics": 8,
    "min_interests": 1,
    "max_interests": 3,
    "terms_per_interest": 3,
    "p_term_click": 0.8,
    "term_pool_size": 40,
    "interest_drift": 0.5,
    "serendipity": 0.1,
    "domain_concentration": 2.0,
    "max_articles": 400,
    "val_share": 0.1,
    "test_share": 0.2,
    "embedder": "minilm",
}


# A valid teacher recipe (params/<profile>/teacher.yaml), every field given.
VALID_RECIPE: dict[str, Any] = {
    "model": "xs",
    "tokenizer_kind": "word",
    "vocab_size": 1024,
    "lora_rank": 0,
    "max_prompt_signals": 48,
    "max_prompt_chars": 300,
    "demos_per_user": 2,
    "demo_pool": 10,
    "prompt_candidates": 8,
    "n_train_users": 150,
    "sft_epochs": 8,
    "sft_learning_rate": 0.008,
    "sft_batch_size": 32,
    "imitation_curve_users": 10,
    "imitation_curve_points": 2,
    "grpo_steps": 3,
    "grpo_learning_rate": 0.0008,
    "users_per_step": 2,
    "num_generations": 4,
    "beta": 0.0,
    "teacher_reward": "verifiable",
    "verifiable_learning_rate": 0.0008,
    "verifiable_beta": 0.0,
    "target_days": 7,
    "reward_depth": 1000,
    "temperature": 1.0,
    "top_p": 1.0,
    "duplicate_guard": True,
    "max_completion_length": 32,
    "reward_embedder": "static",
    "n_queries": 5,
    "n_judge_clusters": 8,
    "w_align": 1.0,
    "w_cov": 1.0,
    "w_spec": 1.0,
    "w_div": 1.0,
    "w_struct": 1.0,
    "serving_embedder": "minilm",
    "index_kind": "exact",
    "fusion": "round_robin",
    "k_per_query": 20,
    "n_eval_users": 20,
    "n_val_users": 12,
}

# Valid own parameters (no recipe field) of the notebooks that read the teacher recipe.
VALID_OWN_PARAMS: dict[str, dict[str, Any]] = {
    "03_grpo": {"profile": "smoke", "seed": 0, "n_seeds": 1, "validity_samples": 4, "improvement_samples": 2,
                "imitation_sizes": [], "ablations": ["cov"]},
    "04_scaling": {"profile": "smoke", "seed": 0, "sizes": ["xs", "s"],
                   "capacity_train_users": 150, "capacity_grpo_steps": 3, "capacity_sft_epochs": {}, "capacity_sft_learning_rates": {},
                   "n_best_of_n_users": 10, "best_of_n": [1, 2, 4], "sizes_best_of_n": [1, 2],
                   "sample_temperature": 1.0, "n_draws": 4},
    "05_distillation": {"profile": "smoke", "seed": 0, "student": "xs", "n_seeds": 1,
                        "distill_train_users": 16, "teacher_samples": 1, "supervised_epochs": 1,
                        "supervised_learning_rate": 0.002, "distill_steps": 4,
                        "distill_learning_rate": 0.002, "distill_batch_size": 4,
                        "grpo_after_steps": 2, "curve_every": 2, "n_curve_users": 5,
                        "n_serving_users": 16, "serving_batch_size": 8},
}


class ToyParams(NotebookParams):
    """Parameters of the two-cell toy notebook."""

    n: int = Field(ge=1, le=100, description="A number the notebook doubles.")
    fail: bool = Field(default=False, description="Raise in the second cell.")


class Project:
    """A project tree under ``root`` that ``newsstudy.paths`` points at."""

    def __init__(self, root: Path):
        self.root = root
        self.params = root / "params"
        self.notebooks = root / "notebooks"
        self.reports = root / "reports"
        self.explicit: set[str] = set()  # profiles whose profile.yaml a test wrote itself

    def write_params(self, profile: str, notebook: str, content: dict | str) -> Path:
        """Write ``params/<profile>/<notebook>.yaml`` from a mapping or raw YAML text, and
        list the notebook in the profile's ``profile.yaml`` (the recipe is no notebook)."""
        path = self.params / profile / f"{notebook}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else yaml.safe_dump(content)
        path.write_text(text, encoding="utf-8")
        self.sync_listings()
        return path

    def sync_listings(self) -> None:
        """List in each profile's ``profile.yaml`` the notebooks that have both a file and
        a params file there (as a shipped profile does), unless a test set the listing
        itself (:meth:`list_notebooks`)."""
        names = {p.stem for p in self.notebooks.glob("*.ipynb")}
        for folder in self.params.iterdir():
            if folder.is_dir() and folder.name not in self.explicit:
                listed = sorted(p.stem for p in folder.glob("*.yaml")
                                if p.stem not in (RECIPE, PROFILE) and p.stem in names)
                (folder / "profile.yaml").write_text(yaml.safe_dump({"notebooks": listed}),
                                                     encoding="utf-8")

    def list_notebooks(self, profile: str, names: list[str]) -> Path:
        """Write ``params/<profile>/profile.yaml`` listing ``names``, and keep it."""
        self.explicit.add(profile)
        listing = self.params / profile / "profile.yaml"
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text(yaml.safe_dump({"notebooks": list(names)}), encoding="utf-8")
        return listing

    def write_notebook(self, name: str, parameters: str, *sources: str) -> Path:
        """Write ``notebooks/<name>.ipynb``: a ``parameters`` cell, then plain code cells."""
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.cells = [
            nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            *(nbformat.v4.new_code_cell(source) for source in sources),
        ]
        path = self.notebooks / f"{name}.ipynb"
        nbformat.write(notebook, path)
        self.sync_listings()
        return path


def exit_status(argv: list[str]) -> int:
    """Run ``newsstudy <argv>`` in-process; return its exit status (0 if it returns)."""
    from newsstudy.run.cli import main

    try:
        main(argv)
    except SystemExit as stop:
        return stop.code
    return 0


def project_variants() -> set[str]:
    """Variant folders in the project's own reports and artifacts (not a test's)."""
    roots = (paths.PROJECT_ROOT / "reports", paths.PROJECT_ROOT / "artifacts")
    return {f"{root.name}/{entry.name}" for root in roots if root.is_dir()
            for entry in root.iterdir() if paths.VARIANT_MARK in entry.name}


@pytest.fixture(autouse=True)
def no_variant(monkeypatch: pytest.MonkeyPatch):
    """No test starts inside a variant, none leaves one active (``from_namespace``
    activates a variant for the rest of its process, as a notebook's kernel needs), and
    none writes a variant into the project's own folders."""
    monkeypatch.delenv(paths.VARIANT_VARIABLE, raising=False)
    before = project_variants()
    yield
    assert project_variants() <= before, (
        f"a test wrote a variant into the project: {sorted(project_variants() - before)}")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An empty project with the smoke and default profiles; every path points into it."""
    tree = Project(tmp_path)
    for folder in (tree.params / "smoke", tree.params / "default", tree.notebooks):
        folder.mkdir(parents=True)
    monkeypatch.setattr(paths, "PARAMS_DIR", tree.params)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tree.notebooks)
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tree.reports))
    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path / "artifacts"))
    return tree


@pytest.fixture
def data_project(project: Project) -> Project:
    """A project with a valid ``params/smoke/01_data.yaml``."""
    project.write_params("smoke", "01_data", VALID_DATA_PARAMS)
    return project


@pytest.fixture
def recipe_project(project: Project) -> Project:
    """A project whose smoke profile has a teacher recipe and 03/04/05 params files."""
    project.write_params("smoke", "teacher", {"profile": "smoke", **VALID_RECIPE})
    for notebook, values in VALID_OWN_PARAMS.items():
        project.write_params("smoke", notebook, values)
    return project


@pytest.fixture
def recipe_values() -> dict[str, Any]:
    """A fresh copy of a valid teacher recipe."""
    return dict(VALID_RECIPE)


@pytest.fixture
def toy_project(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project with the ``toy`` schema, notebook and smoke params file."""
    monkeypatch.setitem(SCHEMAS, "toy", ToyParams)
    project.write_params("smoke", "toy", {"profile": "smoke", "seed": 0, "n": 3})
    project.write_notebook(
        "toy",
        'profile = "default"\nseed = 1\nn = 1\nfail = False',
        'if fail:\n    raise RuntimeError("boom")\nprint("result", n * 2)',
    )
    return project


@pytest.fixture
def data_values() -> dict[str, Any]:
    """A fresh copy of valid 01_data parameters for the smoke profile."""
    return dict(VALID_DATA_PARAMS)


@pytest.fixture(scope="session")
def static_embedder():
    """The raw ``static`` backend (distilled once into the default data root, then reused)."""
    from newsstudy.embed import get_embedder

    return get_embedder("static", cached=False)


@pytest.fixture(scope="session")
def smoke_world(tmp_path_factory):
    """The smoke profile's world: the cached one, else built once into a throwaway folder."""
    import os

    from newsstudy import params
    from newsstudy.world import data

    try:
        return data.load_world("smoke")
    except data.WorldMissing:
        saved = os.environ.get("NEWSSTUDY_ARTIFACTS")
        os.environ["NEWSSTUDY_ARTIFACTS"] = str(tmp_path_factory.mktemp("artifacts"))
        try:
            data.build_world(params.load_params("01_data", "smoke"), log=lambda *_: None)
            return data.load_world("smoke")
        finally:
            if saved is None:
                os.environ.pop("NEWSSTUDY_ARTIFACTS", None)
            else:
                os.environ["NEWSSTUDY_ARTIFACTS"] = saved


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run as fast on one torch thread, and far faster when the other core is
    busy; modules that train or generate use it (``pytest.mark.usefixtures``)."""
    from newsstudy.policy import generate

    with generate.torch_threads(1):
        yield
