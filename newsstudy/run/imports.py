"""What a notebook runs on: the ``newsstudy`` modules it imports, directly or through others.

Read with ``ast``, so nothing is imported to find out. Every ``import`` and
``from ... import`` of a ``newsstudy`` module counts, those inside functions too (a lazy
import still runs that module's code), and so do:

- the packages above a module (importing ``newsstudy.teacher.grpo`` runs
  ``newsstudy/__init__.py`` and ``newsstudy/teacher/__init__.py``);
- ``importlib.import_module("newsstudy....")`` with a literal name;
- a package that forwards its names with :func:`newsstudy.lazy.forward`: its ``__getattr__``
  may import any of its submodules by name, so the package counts as importing all of them.

The code fingerprint of a notebook (:mod:`newsstudy.run.fingerprints`) hashes exactly the
files of :func:`notebook_modules`, and ``tests/test_architecture.py`` reads the same graph
for its cycle and layer checks.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path

from newsstudy import paths

PACKAGE = "newsstudy"


def module_name(path: Path) -> str:
    """``newsstudy/teacher/grpo.py`` -> ``newsstudy.teacher.grpo`` (a package: its name)."""
    parts = list(path.relative_to(paths.PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted(paths.PACKAGE_DIR.rglob("*.py"))}


def imported_names(tree: ast.AST, package: str) -> set[str]:
    """Dotted names a parsed module imports (``package``: the package it belongs to, for
    relative imports), and the submodules named by ``from x import name`` (they may be
    modules or attributes: the caller keeps those that are modules)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and _called_name(node.func) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(
                    node.args[0].value, str):
                found.add(node.args[0].value)
        elif isinstance(node, ast.Call) and _called_name(node.func) == "forward":
            found.add(f"{package}.*")  # lazy.forward: any submodule of the package
    return found


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _within(names: Iterable[str], modules: dict[str, Path]) -> set[str]:
    """The package modules that ``names`` name (``pkg.*``: every module below ``pkg``)."""
    out = set()
    for name in names:
        if name.endswith(".*"):
            prefix = name[:-2] + "."
            out |= {m for m in modules if m.startswith(prefix)}
        elif name in modules:
            out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (see the module doc; parents not added)."""
    modules = package_modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = _within(imported_names(tree, package), modules) - {name}
    return graph


def parents(name: str) -> list[str]:
    """The packages above a dotted module name, outermost first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(roots: Iterable[str], graph: dict[str, set[str]] | None = None) -> set[str]:
    """``roots`` and every package module they import, directly or through others, with
    the packages above each."""
    graph = import_graph() if graph is None else graph
    seen: set[str] = set()
    stack = [m for m in roots if m in graph]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack += [m for m in (*graph[name], *parents(name)) if m in graph and m not in seen]
    return seen


def notebook_code(source: Path) -> str:
    """The code of a notebook's cells (``.ipynb``) or of a ``.py`` file, as one module."""
    if source.suffix != ".ipynb":
        return source.read_text(encoding="utf-8")
    cells = json.loads(source.read_text(encoding="utf-8")).get("cells", [])
    return "\n\n".join("".join(cell.get("source", "")) for cell in cells
                       if cell.get("cell_type") == "code")


def notebook_modules(source: Path, graph: dict[str, set[str]] | None = None) -> set[str]:
    """The package modules a notebook runs on (see the module doc)."""
    graph = import_graph() if graph is None else graph
    tree = ast.parse(notebook_code(source))
    return closure(_within(imported_names(tree, PACKAGE), graph), graph)
