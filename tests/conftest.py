"""Shared fixtures: a throwaway project (params/, notebooks/, reports/) under tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from pydantic import Field

from newsstudy import paths
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

    def write_params(self, profile: str, notebook: str, content: dict | str) -> Path:
        """Write ``params/<profile>/<notebook>.yaml`` from a mapping or raw YAML text."""
        path = self.params / profile / f"{notebook}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else yaml.safe_dump(content)
        path.write_text(text, encoding="utf-8")
        return path

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
        return path


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

    from newsstudy import data, params

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
