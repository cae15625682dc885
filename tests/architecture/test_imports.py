"""The import rules of ARCHITECTURE.md, held on the real tree.

Every import counts: at module level, inside functions, and under `if TYPE_CHECKING:`.
    - no import cycles among the modules of agent/, tools/ and local_model/
    - agent/ imports one way: front ends (cli → repl, headless, acp; api) → session →
      config / models / ui → core; everything may use tools/ and prompts/
    - tools/ never imports agent/; local_model/ imports nothing of ours;
      agent/ reaches local_model/ only through agent/models/local.py
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "tools", "local_model", "prompts")

# agent sub-package -> the agent sub-packages it may import (tools and prompts: always)
ALLOWED = {
    "core": {"core"},
    "schemas": {"schemas"},
    "models": {"core", "models"},
    "config": {"core", "config"},
    "ui": {"core", "ui"},
    "extensions": {"core", "config", "extensions"},
    "session": {"core", "models", "config", "extensions", "session"},
    "headless": {"core", "models", "config", "extensions", "session", "ui", "schemas", "headless"},
    "repl": {"core", "models", "config", "extensions", "session", "ui", "repl"},
    "api": {"core", "models", "config", "session", "api"},   # the Python API: a front end
    "acp": {"core", "models", "config", "extensions", "session", "ui", "schemas", "acp"},
    "batch": {"core", "models", "config", "extensions", "session", "ui", "schemas", "headless",
              "batch"},
    "cli": {"core", "models", "config", "extensions", "session", "ui", "schemas", "headless",
            "repl", "acp", "batch", "cli"},
    "__main__": {"cli"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports, anywhere in it."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:   # `import a.b.c` of a name inside a.b
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def agent_part(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "agent" or len(parts) == 1:
        return None
    return parts[1]


def violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in graph.items():
        top = src.split(".")[0]
        for dst in targets:
            dst_top = dst.split(".")[0]
            if top == "tools" and dst_top == "agent":
                bad.append(f"{src} -> {dst}: tools never imports agent")
            if top == "local_model" and dst_top != "local_model":
                bad.append(f"{src} -> {dst}: local_model imports nothing of the project")
            if top == "agent" and dst_top == "local_model" and src != "agent.models.local":
                bad.append(f"{src} -> {dst}: only agent/models/local.py reaches local_model")
            part, dst_part = agent_part(src), agent_part(dst)
            if part is not None and dst_part is not None and dst_part not in ALLOWED[part]:
                bad.append(f"{src} -> {dst}: agent/{part} may not import agent/{dst_part}")
    return sorted(bad)


def test_the_graph_sees_every_kind_of_import(graph):
    # the walk must see function-level and TYPE_CHECKING imports, or it proves nothing
    assert "agent.session.open" in graph["agent.headless.run"]
    assert "tools.repomap" in graph["agent.session.open"] or \
        "tools.repomap.mapper" in graph["agent.session.open"]           # inside a function
    assert "agent.config.load" in graph["agent.session.options"]        # under TYPE_CHECKING
    assert "local_model.__main__" in graph["agent.models.local"]


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_imports_point_one_way(graph):
    assert violations(graph) == []


def test_the_checks_catch_what_they_are_for():
    fake = {"agent.core.loop": {"agent.session.open"}, "agent.session.open": {"agent.core.loop"},
            "tools.base": {"agent.core.types"}, "local_model.model": {"tools.base"},
            "agent.cli.main": {"local_model.server"}, "agent.repl.app": {"agent.headless.run"}}
    assert cycles(fake) == [["agent.core.loop", "agent.session.open"]]
    assert len(violations(fake)) == 5
