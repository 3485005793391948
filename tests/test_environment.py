"""environment.yml (conda) lists the same pip requirements as pyproject.toml."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from newsstudy.paths import PROJECT_ROOT


def normalised(requirements: list[str]) -> set[str]:
    """Requirement strings as ``name<specifiers>;marker`` with canonical name and order."""
    result = set()
    for text in requirements:
        req = Requirement(text)
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        specifiers = ",".join(sorted(str(spec) for spec in req.specifier))
        marker = f";{req.marker}" if req.marker else ""
        result.add(f"{canonicalize_name(req.name)}{extras}{specifiers}{marker}")
    return result


def pyproject_requirements() -> list[str]:
    """``[project] dependencies`` plus the ``dev`` extra."""
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    return project["dependencies"] + project["optional-dependencies"]["dev"]


def conda_pip_requirements() -> list[str]:
    """The ``pip:`` list of environment.yml."""
    environment = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_lists = [item["pip"] for item in environment["dependencies"] if isinstance(item, dict)]
    assert len(pip_lists) == 1, "environment.yml needs exactly one `pip:` list"
    return pip_lists[0]


def test_environment_yml_matches_pyproject():
    ours, conda = normalised(pyproject_requirements()), normalised(conda_pip_requirements())
    assert ours == conda, (
        f"only in pyproject.toml: {sorted(ours - conda)}; "
        f"only in environment.yml: {sorted(conda - ours)}"
    )
