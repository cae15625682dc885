"""tools/ imports: no cycles, counting every import anywhere in a module (in functions,
under `if TYPE_CHECKING:`), and never `agent`."""
from __future__ import annotations

import ast
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def modules() -> dict[str, Path]:
    out = {}
    for path in TOOLS.rglob("*.py"):
        parts = list(path.relative_to(TOOLS.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Every module name `path` imports, wherever the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; any other name is pkg's.
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                      for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in imported(name, path, mods) if m in mods and m != name}
            for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in g:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_inside_tools():
    assert cycles(graph()) == []


def test_the_check_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_tools_never_imports_agent():
    mods = modules()
    bad = {name: sorted(m for m in imported(name, path, mods)
                        if m == "agent" or m.startswith("agent."))
           for name, path in mods.items()}
    assert {k: v for k, v in bad.items() if v} == {}
