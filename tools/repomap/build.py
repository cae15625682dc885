"""Build a repo map in one call: the entry point for the first turn's context.

The work is in `mapper.RepoMapper` (keep one per session to rebuild cheaply).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable

from tools.repomap.mapper import RepoMap, RepoMapper


def build_repo_map(root: Path, *, cache_dir: Path | None, focus_files: Iterable[str] = (),
                   focus_idents: Iterable[str] = (), max_tokens: int = 1024,
                   cache_key: str | None = None) -> str:
    """The repo map of `root` as text, at most about `max_tokens` tokens.

    Args:
        root: the workspace to map.
        cache_dir: the tag cache folder (`AMA_HOME/cache/repomap`); None: no disk cache.
        focus_files: paths (relative to root, or absolute under it; folders allowed)
            the conversation mentions; the map leans toward them.
        focus_idents: identifiers the conversation mentions.
        max_tokens: budget for the outline (estimate: characters / 4).
        cache_key: see `index.scan` (share a cache between a repo and its copies).
    Returns:
        The outline, or "" when the workspace has no mapped source files.
    """
    return build_map(root, cache_dir=cache_dir, focus_files=focus_files,
                     focus_idents=focus_idents, max_tokens=max_tokens,
                     cache_key=cache_key).text


def build_map(root: Path, *, cache_dir: Path | None, focus_files: Iterable[str] = (),
              focus_idents: Iterable[str] = (), max_tokens: int = 1024,
              cache_key: str | None = None, cancel: threading.Event | None = None,
              workers: int | None = None) -> RepoMap:
    """Like `build_repo_map`, returning the details too (stats, applied focus).

    A one-shot build; to rebuild the same workspace repeatedly (a session), keep a
    `mapper.RepoMapper` and call its `map`.
    """
    mapper = RepoMapper(root, cache_dir=cache_dir, cache_key=cache_key, workers=workers)
    return mapper.map(focus_files=focus_files, focus_idents=focus_idents,
                      max_tokens=max_tokens, cancel=cancel)
