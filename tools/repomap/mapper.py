"""A workspace's repo map kept in memory between builds.

One `RepoMapper` per workspace for the life of a session: the first `map()` loads the
disk cache (or parses), later ones only look at what changed on disk, update the
reference graph for those files and restart PageRank from the previous ranks. A
one-shot build (`build.build_map`) is a fresh mapper used once.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tools.repomap.cache import state_key
from tools.repomap.focus import match_files
from tools.repomap.graph import RefGraph
from tools.repomap.index import RepoIndex, ScanStats, TagStore, gc_paused, refresh
from tools.repomap.render import estimate_tokens, render


@dataclass(frozen=True)
class RepoMap:
    """A built map.

    text:   the outline (may be "" when nothing fits or the repo has no source)
    tokens: estimated tokens of `text`
    shown_files: how many files the outline names
    stats:  what the scan did (cache hits, parses)
    focus_files, focus_idents: the focus actually applied (after matching to the repo)
    """

    text: str
    tokens: int
    shown_files: int
    stats: ScanStats
    focus_files: tuple[str, ...] = ()
    focus_idents: tuple[str, ...] = ()


class RepoMapper:
    """Builds and rebuilds the map of one workspace.

    Args:
        root: the workspace.
        cache_dir: tag cache folder; None: memory only.
        cache_key: names the cache folder (default: the real path of root); pass the
            user's repository path when mapping a scratch copy of it (see index.scan).
        workers: parser processes for a cold parse (default: CPU count, at most 8).
    """

    def __init__(self, root: Path, *, cache_dir: Path | None, cache_key: str | None = None,
                 workers: int | None = None):
        self.root = Path(os.path.realpath(root))
        self.store = TagStore(self.root, cache_dir, cache_key)
        self.workers = workers
        self.stats = ScanStats()
        self._entries: dict | None = None
        self._tags: dict = {}
        self._scanned_at: int | list[int] = 0
        self._graph: RefGraph | None = None
        self._ranks: list[float] | None = None  # last unfocused ranks ...
        self._ranks_version = -1                # ... computed at this graph version
        self._version = 0                       # bumped whenever the graph changes
        self._lock = threading.RLock()
        self.ranks_from_disk = False  # the last unfocused ranks came from the cache

    def refresh(self, cancel: threading.Event | None = None) -> ScanStats:
        """Re-read what changed under the root. Raises InterruptedError on `cancel`."""
        with self._lock, gc_paused():
            if self._entries is None:
                old, at = self.store.load()
            else:
                old, at = self._entries, self._scanned_at
            # a session's later refreshes write the cache behind its back; the first
            # (maybe a one-shot build about to exit) writes before returning
            self.store.background = self._entries is not None
            delta = refresh(self.root, old, at, store=self.store, cancel=cancel,
                            workers=self.workers)
            if self._graph is None:
                self._graph = RefGraph()
                self._graph.set_files({rel: e[3] for rel, e in delta.entries.items()})
            else:
                for rel in delta.changed:
                    self._graph.set_file(rel, delta.entries[rel][3])
                for rel in delta.removed:
                    self._graph.remove_file(rel)
            self._graph.freeze()
            if not delta.stats.unchanged:
                self._version += 1
            self._entries, self._scanned_at = delta.entries, delta.scanned_at
            self._tags = {rel: e[3] for rel, e in delta.entries.items()}
            self.stats = delta.stats
            return delta.stats

    def _unfocused_ranks(self, graph: RefGraph) -> list[float]:
        """PageRank without focus: kept in memory per graph version; in a new process
        read from disk when the repository is unchanged; after an update, iterated
        from the previous ranks (a few iterations instead of a full run)."""
        if self._ranks is not None and self._ranks_version == self._version:
            return self._ranks
        self.ranks_from_disk = False
        if self._ranks is not None:
            ranks = graph.pagerank(start=self._ranks)
        else:
            state = state_key(self._entries or {})
            stored = self.store.load_ranks(state)
            if stored is not None and all(rel in stored for rel in graph.files):
                ranks = [stored[rel] for rel in graph.files]
                self.ranks_from_disk = True
            else:
                ranks = graph.pagerank()
                self.store.save_ranks(state, dict(zip(graph.files, ranks)))
        self._ranks, self._ranks_version = ranks, self._version
        return ranks

    def flush(self) -> None:
        """Wait until the cache on disk has every update (they are written behind)."""
        self.store.flush()

    def index(self) -> RepoIndex:
        """The current tags of every mapped file (refresh first)."""
        with self._lock:
            if self._entries is None:
                self.refresh()
            return RepoIndex(self.root, self._tags)

    def map(self, *, focus_files: Iterable[str] = (), focus_idents: Iterable[str] = (),
            max_tokens: int = 1024, refresh: bool = True,
            cancel: threading.Event | None = None) -> RepoMap:
        """Refresh (unless told not to) and render the map.

        focus_files: paths as `focus.match_files` takes them; focus_idents: names.
        """
        with self._lock, gc_paused():
            if refresh or self._graph is None:
                self.refresh(cancel)
            graph = self._graph
            assert graph is not None
            index = self.index()
            files = match_files(index, focus_files)
            idents = tuple(sorted(set(focus_idents)))
            fidents = frozenset(idents)
            jumps = graph.jumps(files, fidents)
            unfocused = jumps is None and not fidents
            ranks = self._unfocused_ranks(graph) if unfocused else \
                graph.pagerank(jumps, fidents)
            top = graph.top_definitions(ranks, max(max_tokens, 0), fidents, files)
            text = render(top, index.tags, max_tokens)
        shown = sum(1 for line in text.splitlines() if line.endswith(":") and "│" not in line)
        return RepoMap(text, estimate_tokens(text), shown, self.stats, files, idents)
