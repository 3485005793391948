"""The package's import graph: no module reaches itself through its imports.

Every ``import``/``from ... import`` of a ``newsstudy`` module counts, including those
inside functions (a lazy import still ties the two modules together). Read with ``ast``,
so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from newsstudy import paths


def module_name(path: Path) -> str:
    parts = list(path.relative_to(paths.PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``newsstudy`` modules it imports (a package import names its
    ``__init__``; ``from package import module`` names the module)."""
    files = {module_name(p): p for p in paths.PACKAGE_DIR.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found |= {f"{base}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles, one path per cycle found by depth-first search."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "newsstudy.policy.pretrained" in graph["newsstudy.policy.ladder"]
    assert "newsstudy.report.build" in graph["newsstudy.report"]  # a package's __init__


def test_no_import_cycles():
    graph = import_graph()
    # a package's __init__ re-exporting its modules is not a cycle of the modules themselves
    modules = {name: {m for m in deps if not (name.startswith(m + ".") and
                                              m in {n.rpartition(".")[0] for n in graph})}
               for name, deps in graph.items()}
    assert cycles(modules) == []
