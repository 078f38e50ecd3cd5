"""The import rules docs/architecture.md states: no cycles in the package, and a simulator that
restates the wire on its own instead of importing the client's view of it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "runner"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports() -> dict[str, set[str]]:
    """Each runner module → the runner modules it imports (at the top or inside a function);
    `from runner.cli import plan` imports the module runner.cli.plan."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    found.add(submodule if submodule in paths else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {module for module in found if module in paths and module != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as a path of module names, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done or module not in graph:
            return None
        for imported in sorted(graph[module]):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_the_package_outside_the_simulator_has_no_import_cycles() -> None:
    graph = {
        module: {m for m in imported if not m.startswith("runner.simulator")}
        for module, imported in _imports().items()
        if not module.startswith("runner.simulator")
    }
    cycle = _cycle(graph)
    assert cycle is None, f"Import cycle: {' -> '.join(cycle)}"


def test_the_simulator_imports_nothing_from_the_rest_of_the_package() -> None:
    outside = {
        module: sorted(m for m in imported if not m.startswith("runner.simulator"))
        for module, imported in _imports().items()
        if module.startswith("runner.simulator")
    }
    assert {module: found for module, found in outside.items() if found} == {}


def test_the_import_graph_sees_the_imports_the_rules_are_about() -> None:
    """The two rules above would hold vacuously over an empty graph: the graph has real edges
    (a module import, a submodule imported from its package), and a cycle is found when one exists."""
    graph = _imports()
    assert "runner.cli.exitcodes" in graph["runner.cli.run"]  # from runner.cli.exitcodes import ...
    assert "runner.cli.plan" in graph["runner.cli"]  # from runner.cli import plan
    assert "runner.simulator.clock" in graph["runner.simulator.oss_routes"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
