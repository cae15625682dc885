"""The default tool set, by name. The public tool API is these names and arguments."""
from __future__ import annotations

from pathlib import Path

from tools.base import Tool


def default_tools(cache_dir: Path | None = None, cache_key: str | None = None) -> list[Tool]:
    """Every tool the model gets by default, in the order it is told about them.

    `cache_dir` / `cache_key` give the repo-map tools their on-disk cache; the key (the
    user's repo path) lets every session of one repo share it, although each session's
    scratch copy lives at a new path.
    """
    from tools.files import FILE_TOOLS
    from tools.git_tool import GitTool
    from tools.shell import ShellTool
    from tools.todo import TodoTool

    tools: list[Tool] = [*FILE_TOOLS, ShellTool(), GitTool(), TodoTool()]
    try:
        from tools.repomap.tools import FindSymbolTool, RepoMapTool
    except ImportError:  # the repo map is optional at this layer
        return tools
    return tools + [RepoMapTool(cache_dir=cache_dir, cache_key=cache_key),
                    FindSymbolTool(cache_dir=cache_dir, cache_key=cache_key)]


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {t.name: t for t in tools}
