"""The repo map: tree-sitter tags, ranked by references, cut to a token budget.

    build_repo_map(root, cache_dir=...)  -> outline text for the first turn's context
    RepoMapper(root, cache_dir=...).map() -> the same, kept in memory for a session
    tools.repomap.tools.REPOMAP_TOOLS    -> the `repo_map` and `find_symbol` tools

Modules: `languages` (extension -> grammar, query files in `queries/`), `tags`
(extract), `files` (what to map), `cache` + `index` (per-file tags kept on disk by
content hash), `worker` (parallel cold parse), `rank` (reference PageRank, weights),
`graph` (the incremental reference graph and ranking), `render` (outline + budget),
`focus` (what the conversation mentions), `symbols` (find_symbol), `mapper` (a
workspace's map kept up to date), `build` (one-shot entry points), `tools`.
Importing this package imports neither tree-sitter (a parse does) nor pydantic
(the tools module does).
"""
from __future__ import annotations

from typing import Any

from tools.repomap.build import build_map, build_repo_map
from tools.repomap.mapper import RepoMap, RepoMapper

__all__ = ["REPOMAP_TOOLS", "FindSymbolTool", "RepoMap", "RepoMapTool", "RepoMapper",
           "build_map", "build_repo_map"]


def __getattr__(name: str) -> Any:
    # The tool classes need pydantic; the first-turn map does not.
    if name in ("REPOMAP_TOOLS", "FindSymbolTool", "RepoMapTool"):
        from tools.repomap import tools as _tools
        return getattr(_tools, name)
    raise AttributeError(name)
