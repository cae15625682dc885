"""The model's tools over the repo map: `repo_map` and `find_symbol`.

Both read the workspace on the host (`ctx.root`) through the tag cache; neither
changes anything. The cache folder is given to the constructor; the default is
`$AMA_HOME/cache/repomap` (AMA_HOME read when the tool runs, so tests that move it
are honoured), else the platform's user data folder for amanuensis.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolError, ToolResult
from tools.repomap.focus import split_focus
from tools.repomap.mapper import RepoMapper
from tools.repomap.symbols import format_hits, lookup

_KEEP_MAPPERS = 4  # workspaces whose graph a tool instance keeps in memory


def default_cache_dir() -> Path:
    """`$AMA_HOME/cache/repomap`, or the same under the platform's user data folder."""
    home = os.environ.get("AMA_HOME")
    if not home:
        import platformdirs
        home = platformdirs.user_data_dir("amanuensis", appauthor=False)
    return Path(home).expanduser() / "cache" / "repomap"


class RepoMapParams(BaseModel):
    focus: str | None = Field(
        None, description="Files, folders or identifiers to centre the map on, "
                          "e.g. 'src/auth/ login_user SessionStore'. Omit for the whole repo.")
    max_tokens: int = Field(1024, ge=64, le=16384,
                            description="Budget for the map, in tokens (about 4 characters each).")


class FindSymbolParams(BaseModel):
    name: str = Field(..., min_length=1, max_length=300,
                      description="An identifier, optionally qualified: 'parse_args', "
                                  "'QuerySet.filter', 'Circle::area'.")


class _CachedTool(BaseTool):
    """Holds one `RepoMapper` per workspace (a few, most recent first), so a second
    call in a session only re-reads what changed."""

    mutating: ClassVar[bool] = False

    def __init__(self, cache_dir: Path | None = None, cache_key: str | None = None):
        self._cache_dir = cache_dir
        self._cache_key = cache_key
        self._mappers: dict[tuple[str, str], RepoMapper] = {}
        self._lock = threading.Lock()

    def _mapper(self, ctx: ToolContext) -> RepoMapper:
        cache_dir = self._cache_dir or default_cache_dir()
        key = (os.path.realpath(ctx.root), str(cache_dir))
        with self._lock:
            mapper = self._mappers.pop(key, None)
            if mapper is None:
                mapper = RepoMapper(Path(key[0]), cache_dir=cache_dir,
                                    cache_key=self._cache_key)
            self._mappers[key] = mapper
            while len(self._mappers) > _KEEP_MAPPERS:
                self._mappers.pop(next(iter(self._mappers)))
        return mapper


class RepoMapTool(_CachedTool):
    name: ClassVar[str] = "repo_map"
    description: ClassVar[str] = (
        "Outline of the repository's most important definitions (classes, functions, "
        "methods) ranked by how much the rest of the code refers to them, cut to a token "
        "budget. Each line is `line│source`. Give `focus` (paths, folders, identifiers) "
        "to centre it on what you are working on.")
    params: ClassVar[type[BaseModel]] = RepoMapParams

    def run(self, args: RepoMapParams, ctx: ToolContext) -> ToolResult:  # type: ignore[override]
        mapper = self._mapper(ctx)
        try:
            stats = mapper.refresh(ctx.cancel)
            index = mapper.index()
            if not index.tags:
                return ToolResult("No source files in a supported language were found.",
                                  summary="repo map: no source files")
            files, idents = split_focus(index, args.focus)
            m = mapper.map(focus_files=files, focus_idents=idents,
                           max_tokens=args.max_tokens, refresh=False)
        except InterruptedError:
            raise ToolError("interrupted before the repo map was built") from None
        focus = ", ".join(files[:5] + idents[:5])
        head = (f"Repo map: {m.shown_files} of {len(index.tags)} source files"
                + (f", focused on {focus}" if focus else "") + ".")
        return ToolResult(f"{head}\n{m.text}",
                          summary=f"repo map ({m.tokens} tokens, {m.shown_files} files)",
                          data={"files": len(index.tags), "parsed": stats.parsed,
                                "focus_files": list(files), "focus_idents": list(idents)})


class FindSymbolTool(_CachedTool):
    name: ClassVar[str] = "find_symbol"
    description: ClassVar[str] = (
        "Where a symbol is defined and where it is used, as `path:line` entries "
        "(from the repository's parsed source; comments and strings are not searched).")
    params: ClassVar[type[BaseModel]] = FindSymbolParams

    def run(self, args: FindSymbolParams, ctx: ToolContext) -> ToolResult:  # type: ignore[override]
        mapper = self._mapper(ctx)
        try:
            mapper.refresh(ctx.cancel)
        except InterruptedError:
            raise ToolError("interrupted before the source was indexed") from None
        index = mapper.index()
        hits = lookup(index, args.name)
        n_uses = sum(len(lines) for _rel, lines in hits.uses)
        return ToolResult(format_hits(hits, index),
                          summary=f"find_symbol {hits.name}: {len(hits.definitions)} "
                                  f"definition(s), {n_uses} use(s)",
                          data={"definitions": len(hits.definitions), "uses": n_uses})


REPOMAP_TOOLS: tuple[BaseTool, ...] = (RepoMapTool(), FindSymbolTool())
