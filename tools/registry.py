"""The default tool set, by name. The public tool API is these names and arguments."""
from __future__ import annotations

from tools.base import Tool


def default_tools() -> list[Tool]:
    """Every tool the model gets by default, in the order it is told about them."""
    from tools.files import FILE_TOOLS
    from tools.git_tool import GitTool
    from tools.shell import ShellTool
    from tools.todo import TodoTool

    tools: list[Tool] = [*FILE_TOOLS, ShellTool(), GitTool(), TodoTool()]
    try:
        from tools.repomap.tools import REPOMAP_TOOLS
    except ImportError:  # the repo map is optional at this layer
        REPOMAP_TOOLS = ()
    tools += list(REPOMAP_TOOLS)
    return tools


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {t.name: t for t in tools}
