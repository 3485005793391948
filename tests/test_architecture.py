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
    """Module -> the ``newsstudy`` modules it imports. ``from package import module`` names
    the module (and the package's ``__init__`` only when a name that is not a submodule is
    imported from it); ``importlib.import_module("newsstudy....")`` with a literal name and
    ``lazy.forward(__name__, "body")`` (a package that imports its body on first use)
    count as imports too."""
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
                submodules = {f"{base}.{alias.name}" for alias in node.names}
                found |= submodules
                if not submodules <= set(files):
                    found.add(base)
            elif isinstance(node, ast.Call):
                found |= dynamic_imports(node, name)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def dynamic_imports(call: ast.Call, module: str) -> set[str]:
    """What ``importlib.import_module("x")`` or ``lazy.forward(__name__, "body")`` imports."""
    function = call.func
    called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    literals = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if called == "import_module" and literals:
        return {literals[0]}
    if called == "forward" and literals:
        return {f"{module}.{literals[-1]}"}
    return set()


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
    assert cycles(import_graph()) == []


def test_the_graph_sees_lazy_and_importlib_imports():
    graph = import_graph()
    assert "newsstudy.distillation.students" in graph["newsstudy.distillation"]


# The library's layers, lowest first: the shared core (top-level modules), then one
# folder per stage in the order its results feed the next, then the tooling (the runner
# and command line in run/, the final report in report/: one layer, each reads the other).
STAGES = ("world", "policy", "rewards", "teacher", "baselines", "scaling", "distillation",
          "ab")
TOOLING = ("run", "report")
# Imports that go up the order on purpose, each with its reason. Nothing else may.
ALLOWED_UPWARD = {
    # 01b re-asks the world's questions with two baselines (a content model and GRU4Rec)
    ("newsstudy.world.sensitivity", "newsstudy.baselines"),
    ("newsstudy.world.sensitivity", "newsstudy.baselines.content"),
    # the params schemas check a model name against the ladder and the pretrained
    # registry before any kernel starts (a lazy import inside the validator)
    ("newsstudy.schemas", "newsstudy.policy.ladder"),
    # 06's schema takes the simulator's settings (defaults, ranges, meanings) as they are
    ("newsstudy.schemas", "newsstudy.ab.settings"),
}


def layer(module: str) -> int:
    """0 for the shared core, 1 + the stage's position in ``STAGES``, then the tooling."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return 1 + STAGES.index(parts[1])
    if len(parts) > 1 and parts[1] in TOOLING:
        return 1 + len(STAGES)
    return 0


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) pairs where a module imports from a later stage."""
    return {(name, dep) for name, deps in graph.items() for dep in deps
            if layer(dep) > layer(name)}


def test_layers_are_ordered():
    assert layer("newsstudy.io") == 0
    assert layer("newsstudy.world.data") < layer("newsstudy.rewards.judge")
    assert layer("newsstudy.policy.decoding") < layer("newsstudy.teacher.grpo")
    assert layer("newsstudy.ab.stats") < layer("newsstudy.run.runner")


def test_no_stage_imports_a_later_stage():
    assert upward_imports(import_graph()) - ALLOWED_UPWARD == set()


def test_every_allowed_upward_import_still_exists():
    assert ALLOWED_UPWARD <= upward_imports(import_graph())


RUN_MACHINERY = ("newsstudy.run.runner", "newsstudy.run.cli", "newsstudy.run.gpu_plan")


def test_the_report_and_the_notebooks_never_import_the_runner_cli_or_gpu_plan():
    """They read the run records (``run.records``, ``run.status``), never the machinery
    that runs notebooks."""
    graph = import_graph()
    for name, deps in graph.items():
        if name.startswith("newsstudy.report"):
            assert not deps & set(RUN_MACHINERY), (name, deps & set(RUN_MACHINERY))
    for notebook in sorted(paths.NOTEBOOKS_DIR.glob("*.py")):
        tree = ast.parse(notebook.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                named = {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
                assert not named & set(RUN_MACHINERY), (notebook.name, named & set(RUN_MACHINERY))


def test_no_private_name_is_imported_across_packages():
    for path in paths.PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("newsstudy"):
                private = [a.name for a in node.names
                           if a.name.startswith("_") and not a.name.endswith("__")]
                home = module_name(path).rpartition(".")[0]
                if private and not (node.module or "").startswith(home or "newsstudy"):
                    raise AssertionError(f"{path.name} imports {private} from {node.module}")
