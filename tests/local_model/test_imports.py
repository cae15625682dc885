"""local_model's imports, read from the source: no cycles among its modules, and nothing from
the rest of amanuensis. Every import counts, wherever it is written (module level, inside a
function, under `if TYPE_CHECKING:`)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "local_model"
MODULES = {path.stem: path for path in PACKAGE.glob("*.py")}  # "__init__" is the package itself
FOREIGN = ("agent", "tools")  # amanuensis' other packages


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, by dotted name; a name imported from local_model that is one
    of its modules counts as that module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "local_model" + (f".{node.module}" if node.module else "") if node.level else node.module
            names.add(base)
            if base == "local_model":
                names.update(f"local_model.{a.name}" for a in node.names if a.name in MODULES)
    return names


def _graph() -> dict[str, set[str]]:
    """local_model module -> the local_model modules it imports ("local_model" for __init__)."""
    def node(stem: str) -> str:
        return "local_model" if stem == "__init__" else f"local_model.{stem}"

    graph = {}
    for stem, path in MODULES.items():
        inside = {name for name in _imports(path) if name.split(".")[0] == "local_model"}
        targets = {node(name.split(".")[1]) if "." in name else "local_model" for name in inside}
        graph[node(stem)] = targets - {node(stem)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first walk meets (each as a path that ends where it starts)."""
    on_path: list[str] = []
    seen: set[str] = set()
    found = []

    def visit(name: str) -> None:
        seen.add(name)
        on_path.append(name)
        for target in sorted(graph.get(name, ())):
            if target in on_path:
                found.append(on_path[on_path.index(target):] + [target])
            elif target not in seen:
                visit(target)
        on_path.pop()

    for name in sorted(graph):
        if name not in seen:
            visit(name)
    return found


def test_the_walk_sees_imports_everywhere_in_a_module(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from .engine import Engine\n"
                      "def f():\n    from . import kernels, load_model\n    import agent.loop\n")
    assert {"local_model.engine", "local_model", "local_model.kernels", "agent.loop"} <= _imports(source)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_local_model_has_no_import_cycles():
    assert _cycles(_graph()) == []


def test_local_model_imports_nothing_from_the_rest_of_amanuensis():
    offenders = {f"{stem}.py: {name}" for stem, path in MODULES.items() for name in _imports(path)
                 if name.split(".")[0] in FOREIGN}
    assert not offenders
