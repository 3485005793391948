"""The committed notebooks and params files follow the conventions that the runner relies on.

Every notebook: exactly one ``parameters`` cell that holds the profile, the variant, the
analyst's knobs (typed, commented, None: the profile's value, so the cell holds no second
home of any value) and the ``overrides`` mapping, followed by the cell that validates them
with ``from_namespace``; no outputs committed;
a params file for every profile that validates. Every params file belongs to a notebook
schema and validates.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from newsstudy import paths
from newsstudy.params import (
    PROFILE,
    RECIPE,
    load_params,
    load_recipe,
    notebooks,
    profile_notebooks,
    profiles,
    schema_for,
)

NOTEBOOKS = notebooks() or [pytest.param("none", marks=pytest.mark.skip(reason="no notebooks yet"))]
PARAMS_FILES = [
    pytest.param(path, id=f"{path.parent.name}/{path.name}")
    for path in sorted(paths.PARAMS_DIR.glob("*/*.yaml")) if path.stem != PROFILE
] or [pytest.param(None, marks=pytest.mark.skip(reason="no params files yet"))]


def code_cells(notebook: str) -> list[dict]:
    """The code cells of ``notebooks/<notebook>.ipynb``, read as plain JSON."""
    path = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def source(cell: dict) -> str:
    """A cell's source as one string (nbformat stores a string or a list of lines)."""
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def parameters_index(cells: list[dict]) -> int:
    """Position of the one cell tagged ``parameters``; fails unless there is exactly one."""
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


def validates_parameters(code: str, notebook: str) -> bool:
    """Whether a cell calls ``from_namespace("<notebook>", globals())``."""
    return any(
        isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "from_namespace"
        and [ast.unparse(arg) for arg in node.args] == [repr(notebook), "globals()"]
        for node in ast.walk(ast.parse(code))
    )


def assigned_names(code: str) -> list[str]:
    """Names assigned at the top level of a cell (``x = ...`` and ``x: int = ...``)."""
    names = []
    for node in ast.parse(code).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [target.id for target in targets if isinstance(target, ast.Name)]
    return names


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_has_no_outputs(notebook):
    for cell in code_cells(notebook):
        assert not cell.get("outputs"), f"{notebook}: committed cell has outputs"
        assert cell.get("execution_count") is None, f"{notebook}: committed execution_count"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_parameters_cell_holds_typed_commented_knobs_and_no_values(notebook):
    cells = code_cells(notebook)
    code = source(cells[parameters_index(cells)])
    names = assigned_names(code)
    assert sorted(names) == sorted(set(names)), f"{notebook}: a parameter is assigned twice"
    assert names[:2] == ["profile", "variant"] and names[-1] == "overrides", names
    knobs = names[2:-1]
    fields = set(schema_for(notebook).model_fields)
    assert knobs and set(knobs) <= fields, f"{notebook}: not parameters: {set(knobs) - fields}"
    assert "seed" in knobs
    lines = {line.split(":", 1)[0]: line for line in code.splitlines() if ":" in line
             and not line.startswith(("#", "from"))}
    for name in knobs:
        line = lines[name]
        # papermill --help-notebook reads `name: type = value  # meaning`
        assert line.startswith(f"{name}: Optional[") and " = None  # " in line, line
        assert len(line.split("  # ", 1)[1]) > 5, f"{notebook}: {name} has no meaning"
    assert lines["profile"].startswith('profile: str = "default"  # ')
    assert lines["overrides"].startswith("overrides: dict = {}  # ")


def test_papermill_documents_the_parameters_cell():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook",
                           str(paths.NOTEBOOKS_DIR / "03_grpo.ipynb")],
                          capture_output=True, text=True, check=True)
    assert "grpo_learning_rate: Optional[float] (default None)" in done.stdout
    assert "Dr.GRPO learning rate" in done.stdout and "Unknown type" not in done.stdout


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_parameters_are_validated_right_after(notebook):
    cells = code_cells(notebook)
    following = cells[parameters_index(cells) + 1 :]
    assert following and validates_parameters(source(following[0]), notebook), (
        f'{notebook}: the cell after parameters must call from_namespace("{notebook}", globals())'
    )


FULL_PROFILES = ("default", "smoke", "paper")  # the profiles that run the whole study


@pytest.mark.parametrize("profile", [p for p in profiles() if p in FULL_PROFILES])
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_full_profile_has_a_valid_params_file(notebook, profile):
    load_params(notebook, profile)


@pytest.mark.parametrize("profile", profiles())
def test_every_profile_runs_the_data_notebook_first(profile):
    names = profile_notebooks(profile)
    assert names[0] == "01_data" and names == [n for n in notebooks() if n in names]


@pytest.mark.parametrize("path", PARAMS_FILES)
def test_every_params_file_validates(path: Path):
    if path.stem == RECIPE:
        load_recipe(path.parent.name)
    else:
        load_params(path.stem, path.parent.name)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_ipynb_and_its_py_twin_hold_the_same_cells(notebook):
    """jupytext pairs each notebook with a py:percent file; the two say the same thing."""
    import jupytext

    ipynb = jupytext.read(paths.NOTEBOOKS_DIR / f"{notebook}.ipynb")
    twin = jupytext.read(paths.NOTEBOOKS_DIR / f"{notebook}.py")
    cells = [[(c.cell_type, c.source.strip()) for c in nb.cells] for nb in (ipynb, twin)]
    assert cells[0] == cells[1], (f"{notebook}.ipynb and {notebook}.py differ: run "
                                  f"`jupytext --sync notebooks/{notebook}.ipynb`")
