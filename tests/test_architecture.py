"""The layers of docs/architecture.md, checked on the import graph: packages import only the
layers below them, through the names each package's __init__ makes public; nothing imports
in a circle; the simulator restates the wire on its own; no module grows past ~400 lines."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "runner"
#: a package may import the packages of lower layers, never its own layer's or higher ones
LAYERS = {
    "core": 0,
    "manifest": 1,
    "api": 1,
    "journal": 1,
    "planning": 2,
    "outputs": 2,
    "engine": 3,
    "session": 4,
    "cli": 5,
}
MAX_LINES = 420


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _package(module: str) -> str:
    """The layer package of a module: `runner.engine.polling.poller` -> `engine`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(*, runtime_only: bool = False) -> dict[str, set[str]]:
    """Each runner module → the runner modules it imports (at the top or inside a function);
    `from runner.cli import plan` imports the module runner.cli.plan. `runtime_only`: without
    the imports made for the type checker alone (`if TYPE_CHECKING:`), which run never."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(node) for block in _type_checking_blocks(tree) for node in ast.walk(block)}
        for node in ast.walk(tree):
            if runtime_only and id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    found.add(submodule if submodule in paths else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {module for module in found if module in paths and module != name}
    return graph


def _type_checking_blocks(tree: ast.Module) -> list[ast.stmt]:
    """The statements of a module's `if TYPE_CHECKING:` blocks."""
    return [
        statement
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
    ]


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


def _layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a package's own layer or a higher one (the simulator stands apart)."""
    found = []
    for module, imported in graph.items():
        source = _package(module)
        for target in imported:
            dest = _package(target)
            if source == dest or source not in LAYERS or dest not in LAYERS:
                continue
            if LAYERS[dest] >= LAYERS[source]:
                found.append(f"{module} imports {target}")
    return sorted(found)


def test_each_package_imports_only_the_layers_below_it() -> None:
    """core ← manifest, api, journal ← planning, outputs ← engine ← session ← cli, on a graph with
    edges."""
    graph = _imports()
    crossing = {(_package(m), _package(t)) for m, imported in graph.items() for t in imported}
    assert {
        ("engine", "api"),
        ("outputs", "journal"),
        ("planning", "manifest"),
        ("session", "engine"),
        ("cli", "session"),
    } <= crossing
    assert _layer_violations(graph) == []


def test_a_package_is_used_through_the_names_its_init_makes_public() -> None:
    """Outside its own package, a layer is imported as `from runner.<layer> import name`, and
    `name` is in that package's __all__: nothing reaches into another layer's modules."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        source = _package(_module_name(path))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("runner.")):
                continue
            dest = _package(node.module)
            if dest == source or dest not in LAYERS or dest == "cli":
                continue
            public = set(importlib.import_module(f"runner.{dest}").__all__)
            names = {alias.name for alias in node.names}
            if node.module != f"runner.{dest}" or not names <= public:
                found.append(
                    f"{_module_name(path)}: from {node.module} import {sorted(names - public) or names}"
                )
    assert found == []


def test_the_package_outside_the_simulator_has_no_import_cycles() -> None:
    """No import made when the code runs closes a circle (`runner`'s lazy names, imported for
    the type checker only, are not such imports)."""
    graph = {
        module: {m for m in imported if not m.startswith("runner.simulator")}
        for module, imported in _imports(runtime_only=True).items()
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


def test_no_module_is_two_concepts_in_one_file() -> None:
    """A module past ~400 lines is two concepts: it is split."""
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_rules_see_what_they_are_about() -> None:
    """The rules above would hold vacuously over an empty graph: the graph has real edges, a
    cycle is found when one exists, and an upward import is reported."""
    graph = _imports()
    assert "runner.session.wiring" in graph["runner.session.links"]  # from runner.session.wiring import ...
    assert "runner.cli.plan" in graph["runner.cli"]  # from runner.cli import plan
    assert "runner.simulator.clock" in graph["runner.simulator.oss_routes"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    upward = {"runner.core.tasks": {"runner.engine.engine"}, "runner.engine.lanes": {"runner.engine.config"}}
    assert _layer_violations(upward) == ["runner.core.tasks imports runner.engine.engine"]
