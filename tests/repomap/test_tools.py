"""The model's tools on a real workspace, through the real LocalSandbox context."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tools.base import ToolContext, ToolError
from tools.repomap.tools import (REPOMAP_TOOLS, FindSymbolParams, FindSymbolTool,
                                 RepoMapParams, RepoMapTool, default_cache_dir)
from tools.sandbox.local import LocalSandbox

from tests.repomap.conftest import hub_repo, write_tree


@pytest.fixture
def ctx(tmp_path):
    root = hub_repo(tmp_path / "repo")
    return ToolContext(root=root, sandbox=LocalSandbox(root))


def test_tools_are_exported_read_only_with_schemas():
    names = {t.name for t in REPOMAP_TOOLS}
    assert names == {"repo_map", "find_symbol"}
    for tool in REPOMAP_TOOLS:
        assert tool.spec().parameters["type"] == "object"
    assert RepoMapTool().is_mutating(RepoMapParams()) is False
    assert "focus" in RepoMapTool().spec().parameters["properties"]
    assert FindSymbolTool().spec().parameters["required"] == ["name"]
    assert FindSymbolTool().is_mutating(FindSymbolParams(name="x")) is False


def test_repo_map_tool(ctx, cache_dir):
    tool = RepoMapTool(cache_dir=cache_dir)
    res = tool.run(RepoMapParams(), ctx)
    assert res.output.startswith("Repo map: ")
    assert "pkg/core.py:" in res.output and "class Engine:" in res.output
    assert res.data["files"] == 7 and res.data["parsed"] == 7

    focused = tool.run(RepoMapParams(focus="lonely.py Hermit", max_tokens=64), ctx)
    assert focused.data["focus_files"] == ["pkg/lonely.py"]
    assert focused.data["focus_idents"] == ["Hermit"]
    assert focused.output.splitlines()[1] == "pkg/lonely.py:"
    assert focused.data["parsed"] == 0  # the tool keeps the workspace's graph
    assert list(cache_dir.iterdir())


def test_find_symbol_tool(ctx, cache_dir):
    tool = FindSymbolTool(cache_dir=cache_dir)
    out = tool.run(FindSymbolParams(name="make_engine"), ctx).output
    assert "pkg/core.py:6  (function) def make_engine():" in out
    for k in range(5):
        assert f"pkg/user{k}.py:1, 5" in out
    assert "1 definition(s); 10 use(s) in 5 file(s)" in out

    method = tool.run(FindSymbolParams(name="Engine.start_engine"), ctx).output
    assert "pkg/core.py:2  (method)" in method

    missing = tool.run(FindSymbolParams(name="engine"), ctx).output
    assert "No definition or use of `engine`" in missing
    assert "Engine" in missing and "make_engine" in missing  # suggestions


def test_interrupted_tool_answers_the_model(ctx, cache_dir):
    ctx.cancel.set()
    # nothing is parsed in worker batches here, but the cancel is honoured between
    # batches of the serial parse as well
    write_tree(ctx.root, {f"more/m{k}.py": f"def f{k}(): pass\n" for k in range(40)})
    with pytest.raises(ToolError, match="interrupted"):
        RepoMapTool(cache_dir=cache_dir).run(RepoMapParams(), ctx)


def test_default_cache_dir_follows_ama_home(monkeypatch, tmp_path):
    monkeypatch.setenv("AMA_HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / "cache" / "repomap"


def test_importing_the_tools_does_not_import_tree_sitter():
    code = ("import sys, tools.repomap, tools.repomap.tools, tools.repomap.build; "
            "loaded = [m for m in sys.modules if m.startswith('tree_sitter')]; "
            "assert not loaded, f'imported {loaded}'")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = ("import sys, tools.repomap; "
            "assert 'pydantic' not in sys.modules, 'package import pulled in pydantic'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sandbox_root_matches_tools_paths():
    from tools import paths
    from tools.repomap import focus
    assert focus.SANDBOX_ROOT == paths.SANDBOX_ROOT
